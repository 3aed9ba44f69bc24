//! A client from `client_builder` speaks TLS through the ring provider: it reaches a local HTTPS
//! server whose self-signed certificate it is told to trust, and refuses the same server when it
//! is not. The certificate (`fixtures/localhost.pem`, valid until 2126, for `localhost` and
//! 127.0.0.1) was made with
//! `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
//! -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//! -addext basicConstraints=critical,CA:FALSE -addext keyUsage=critical,digitalSignature
//! -addext extendedKeyUsage=serverAuth -keyout localhost.key -out localhost.pem`.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const CERT: &[u8] = include_bytes!("fixtures/localhost.pem");
const KEY: &[u8] = include_bytes!("fixtures/localhost.key");

/// An HTTPS server on 127.0.0.1 answering every request with `ok`; its URL.
async fn server() -> String {
    let cert = CertificateDer::from_pem_slice(CERT).expect("the fixture's certificate parses");
    let key = PrivateKeyDer::from_pem_slice(KEY).expect("the fixture's key parses");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring offers the default protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("the fixture's key matches its certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "https://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the second test) ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_client_from_the_builder_speaks_tls_with_ring() {
    let url = server().await;
    let trusted = reqwest::Certificate::from_pem(CERT).expect("the certificate parses");
    let client = planexec_tls::client_builder()
        .add_root_certificate(trusted)
        .build()
        .expect("the client builds with the ring provider");
    let response = client
        .get(&url)
        .send()
        .await
        .expect("the TLS request succeeds");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("a body"), "ok");
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_some(),
        "the builder installed a process-wide provider"
    );
}

#[tokio::test]
async fn a_client_refuses_a_certificate_it_does_not_trust() {
    let url = server().await;
    let error = planexec_tls::client()
        .get(&url)
        .send()
        .await
        .expect_err("a self-signed certificate nobody trusts is refused");
    assert!(error.is_connect(), "refused at the handshake: {error:?}");
}
