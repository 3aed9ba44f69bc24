//! Answers whose status is part of the contract (201, 202, 204), documented as such.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use schemars::JsonSchema;
use serde::Serialize;

/// `201 Created` with a JSON body.
#[derive(Debug)]
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> axum::response::Response {
        (StatusCode::CREATED, axum::Json(self.0)).into_response()
    }
}

impl<T: JsonSchema> OperationOutput for Created<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        axum::Json::<T>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        Self::operation_response(ctx, operation)
            .map(|r| vec![(Some(201), r)])
            .unwrap_or_default()
    }
}

/// `200` with a JSON body, or `204 No Content` when there is nothing.
#[derive(Debug)]
pub enum MaybeContent<T> {
    Content(T),
    Nothing,
}

impl<T: Serialize> IntoResponse for MaybeContent<T> {
    fn into_response(self) -> axum::response::Response {
        match self {
            Self::Content(value) => axum::Json(value).into_response(),
            Self::Nothing => StatusCode::NO_CONTENT.into_response(),
        }
    }
}

impl<T: JsonSchema> OperationOutput for MaybeContent<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        axum::Json::<T>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        let mut responses = Vec::new();
        if let Some(ok) = Self::operation_response(ctx, operation) {
            responses.push((Some(200), ok));
        }
        responses.push((
            Some(204),
            Response {
                description: "Nothing at the moment".into(),
                ..Default::default()
            },
        ));
        responses
    }
}

/// `200` when the answer is final, `202 Accepted` when the caller should come back later.
#[derive(Debug)]
pub enum NowOrLater<T> {
    Now(T),
    Later(T),
}

impl<T: Serialize> IntoResponse for NowOrLater<T> {
    fn into_response(self) -> axum::response::Response {
        match self {
            Self::Now(value) => axum::Json(value).into_response(),
            Self::Later(value) => (StatusCode::ACCEPTED, axum::Json(value)).into_response(),
        }
    }
}

impl<T: JsonSchema> OperationOutput for NowOrLater<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        axum::Json::<T>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        match Self::operation_response(ctx, operation) {
            Some(ok) => vec![(Some(200), ok.clone()), (Some(202), ok)],
            None => Vec::new(),
        }
    }
}
