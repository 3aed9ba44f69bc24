//! The one error type of the HTTP edge, answered as `application/problem+json` (RFC 9457).
//!
//! Each kind has a stable `type` URI and one status code. A 500 is logged with its cause and
//! answered without it: callers learn that something failed, operators learn what.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, Response, SchemaObject};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use indexmap::IndexMap;
use planexec_schemas::api::Problem;
use planexec_schemas::command::CommandError;
use planexec_schemas::execution::ExecutionStatus;
use planexec_schemas::validate::FieldError;

/// What a 503 `unavailable` waits for; put in the response's extensions for the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    Nats,
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Database => "PostgreSQL",
            Self::Nats => "NATS",
        })
    }
}

/// Seconds a client is told to wait (`Retry-After`) when a dependency is down.
pub const RETRY_AFTER_SECONDS: u64 = 2;

/// The base of every problem `type`.
pub const PROBLEM_BASE: &str = "https://planexec.dev/problems/";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{resource} {id} not found")]
    NotFound { resource: String, id: String },
    #[error("no route {0}")]
    NoRoute(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("cannot go from {current} to {requested}")]
    InvalidTransition {
        current: ExecutionStatus,
        requested: ExecutionStatus,
        allowed: Vec<ExecutionStatus>,
    },
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{code}: {message}")]
    ImportFailed { code: String, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("the path and query are longer than {0} bytes")]
    UriTooLong(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    Unavailable(String),
    /// A dependency is out of reach: answered 503 with `Retry-After`, and counted by the
    /// circuit breaker when it is the database.
    #[error("{0} is unavailable: {1}")]
    Down(Dependency, String),
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn not_found(resource: &str, id: impl ToString) -> Self {
        Self::NotFound {
            resource: resource.to_owned(),
            id: id.to_string(),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid credentials",
            ),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, "no-route", "No such route"),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::InvalidTransition { .. } => (
                StatusCode::CONFLICT,
                "invalid-transition",
                "The execution cannot make this transition",
            ),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request is not valid",
            ),
            Self::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "The request cannot be read",
            ),
            Self::ImportFailed { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "import-failed",
                "The plan cannot be imported",
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is too large",
            ),
            Self::UriTooLong(_) => (
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "The URI is too long",
            ),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported content type",
            ),
            Self::Disabled(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "execution-disabled",
                "Execution is switched off",
            ),
            Self::Unavailable(_) | Self::Down(..) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "A dependency is unavailable",
            ),
            Self::Timeout(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "The request timed out",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.parts();
        let detail = match self {
            Self::Internal(cause) => {
                tracing::error!(cause, "internal error answered as 500");
                "the server failed to complete the request; the operators have the details in its log".to_owned()
            }
            Self::NotFound { resource, id } => format!("there is no {resource} {id}"),
            Self::Validation(errors) => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                format!("fix these fields: {}", parts.join("; "))
            }
            Self::InvalidTransition {
                current,
                requested,
                allowed,
            } => {
                let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
                format!(
                    "the execution is {current} and cannot become {requested}; from {current} it may become [{}]",
                    allowed.join(", ")
                )
            }
            other => other.to_string(),
        };
        Problem {
            kind: format!("{PROBLEM_BASE}{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: visible(&detail),
            instance: None,
            errors: match self {
                Self::Validation(errors) => Some(
                    errors
                        .iter()
                        .map(|e| FieldError::new(visible(&e.field), visible(&e.message)))
                        .collect(),
                ),
                _ => None,
            },
            current_status: match self {
                Self::InvalidTransition { current, .. } => Some(*current),
                _ => None,
            },
            allowed: match self {
                Self::InvalidTransition { allowed, .. } => Some(allowed.clone()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = problem_response(status, &problem);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if let Self::Down(dependency, _) = self {
            response.extensions_mut().insert(dependency);
        }
        response
    }
}

/// A problem document with its content type.
pub fn problem_response(status: StatusCode, problem: &Problem) -> axum::response::Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::NotFound { resource, id } => Self::NotFound { resource, id },
            CommandError::InvalidTransition {
                current,
                requested,
                allowed,
            } => Self::InvalidTransition {
                current,
                requested,
                allowed,
            },
            CommandError::Invalid { errors } => Self::Validation(errors),
            CommandError::Conflict { message } => Self::Conflict(message),
            CommandError::Forbidden { message } => Self::Forbidden(message),
            CommandError::Disabled { message } => Self::Disabled(message),
            CommandError::Unavailable { message } => Self::Down(Dependency::Database, message),
            CommandError::Internal { message } => Self::Internal(message),
        }
    }
}

impl From<planexec_store::Error> for ApiError {
    fn from(error: planexec_store::Error) -> Self {
        match error {
            planexec_store::Error::NotFound { what, id } => Self::NotFound {
                resource: what.to_owned(),
                id,
            },
            planexec_store::Error::Conflict(message) => Self::Conflict(message),
            e if e.is_unavailable() => Self::Down(Dependency::Database, e.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<planexec_decompose::ImportError> for ApiError {
    fn from(error: planexec_decompose::ImportError) -> Self {
        Self::ImportFailed {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

/// Text of an answer with any NUL character written out as `\u{0}`: a detail may quote the
/// input that was refused for holding one, and no string the API answers holds a NUL.
fn visible(text: &str) -> String {
    text.replace('\0', "\\u{0}")
}

/// Errors are documented per route (see [`crate::docs`]), not inferred.
impl OperationOutput for ApiError {
    type Inner = Problem;
}

/// The documentation of a problem answer: `application/problem+json` with a [`Problem`].
#[derive(Debug)]
pub struct ProblemDoc;

impl OperationOutput for ProblemDoc {
    type Inner = Problem;

    fn operation_response(ctx: &mut GenContext, _operation: &mut Operation) -> Option<Response> {
        let json_schema = ctx.schema.subschema_for::<Problem>();
        Some(Response {
            description: "A problem (RFC 9457): `type` says which, `detail` what to do".into(),
            content: IndexMap::from_iter([(
                "application/problem+json".into(),
                MediaType {
                    schema: Some(SchemaObject {
                        json_schema,
                        example: None,
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        })
    }
}
