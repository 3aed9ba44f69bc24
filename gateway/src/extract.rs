//! Extractors that answer bad input with problem+json: malformed JSON is a 400, JSON of the
//! wrong shape (missing field, wrong type, unknown field or enum value, bad UUID) a 422 naming
//! the field, a path that is not an id a 400. Nothing a client sends makes the server panic.
//!
//! A JSON body is first held to the schema the OpenAPI document publishes for it (`conform`:
//! an array where an object is due is refused, `6.0` counts as the integer 6), then
//! deserialised; `schema` generates both that schema and the document's.
//! A NUL character (`%00`) in a path or query is refused here, as validation refuses it in
//! bodies: PostgreSQL cannot store it, so it would otherwise surface as a 500.

use aide::OperationInput;
use aide::generate::GenContext;
use aide::openapi::Operation;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use serde_json::Value;

use crate::error::ApiError;
use planexec_schemas::validate::FieldError;

mod conform;
pub mod schema;

/// A JSON body, of the shape its schema in the OpenAPI document says.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + JsonSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(mut value) = axum::Json::<Value>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        conform::conform(&mut value, schema::root_schema::<T>().as_value())
            .map_err(|e| ApiError::Validation(vec![e]))?;
        serde_path_to_error::deserialize(value)
            .map(Self)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::Validation(vec![FieldError::new(field, e.into_inner().to_string())])
            })
    }
}

impl<T: JsonSchema> OperationInput for ApiJson<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        axum::Json::<T>::operation_input(ctx, operation);
    }
}

/// A JSON body that may be left out (no body at all): `None` then, else as [`ApiJson`].
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + JsonSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let empty = !headers.contains_key(axum::http::header::CONTENT_TYPE)
            && headers
                .get(axum::http::header::CONTENT_LENGTH)
                .is_none_or(|length| length == "0");
        if empty {
            return Ok(Self(None));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(value)| Self(Some(value)))
    }
}

impl<T: JsonSchema> OperationInput for OptionalJson<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        ApiJson::<T>::operation_input(ctx, operation);
        if let Some(aide::openapi::ReferenceOr::Item(body)) = operation.request_body.as_mut() {
            body.required = false;
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // "Failed to deserialize the JSON body into the target type: <path>: <error>"
            let text = e.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, d)| d)
                .to_owned();
            let (field, message) = match detail.split_once(": ") {
                Some((path, message)) if !path.contains(' ') => {
                    (path.to_owned(), message.to_owned())
                }
                _ => ("body".to_owned(), detail),
            };
            ApiError::Validation(vec![FieldError::new(field, message)])
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "send the body as JSON with `content-type: application/json`".into(),
        ),
        JsonRejection::BytesRejection(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(e.body_text())
            } else {
                ApiError::BadRequest(e.body_text())
            }
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// Path parameters.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.path().contains("%00") {
            return Err(ApiError::BadRequest(
                "bad path parameter: a path must not contain the NUL character (%00)".into(),
            ));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::BadRequest(
                format!("bad path parameter: {}", e.body_text()),
            )),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

impl<T: JsonSchema> OperationInput for ApiPath<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        axum::extract::Path::<T>::operation_input(ctx, operation);
    }
}

/// Query parameters.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::field(
                "query",
                "must not contain the NUL character (%00)",
            ));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::Validation(
                vec![FieldError::new("query", e.body_text())],
            )),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

impl<T: JsonSchema> OperationInput for ApiQuery<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        axum::extract::Query::<T>::operation_input(ctx, operation);
    }
}
