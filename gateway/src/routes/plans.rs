//! Plans: import (a PlanExe zip or a plan document), read the tree, review and correct it.

use aide::OperationInput;
use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with, put_with};
use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, ReferenceOr, RequestBody, SchemaObject};
use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use indexmap::IndexMap;
use planexec_decompose::{Decomposition, ImportOptions};
use planexec_schemas::Id;
use planexec_schemas::api::{PlanList, UpdatePlanTaskRequest};
use planexec_schemas::command::{ApprovePlan, PlanApproved};
use planexec_schemas::plan::{ImportSummary, Plan, PlanDocument, PlanSourceKind};
use planexec_schemas::validate::Validate;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::auth::Operator;
use crate::docs;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::responses::Created;
use crate::routes::executions::{TIME_CURSOR, decode_time_cursor, limit};
use crate::state::AppState;

pub fn routes(upload_limit: usize) -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/api/plans",
            post_with(import, |op| {
                docs::operator(op, "plans", &[400, 413, 415, 422]).description(
                    "Imports a plan: a PlanExe run zip (`application/zip`, or `multipart/form-data` with a file), or a \
                     plan document (`application/json`). Answers the import summary with the plan's id; a plan below \
                     the confidence threshold needs review before its executions start.",
                )
            })
            .layer(axum::extract::DefaultBodyLimit::max(upload_limit))
            .get_with(list, |op| docs::operator(op, "plans", &[422]).description("Plans, newest first.")),
        )
        .api_route(
            "/api/plans/{plan_id}",
            get_with(get_one, |op| {
                docs::operator(op, "plans", &[400, 404])
                    .description("The decomposed tree: phases, tasks, subtasks, dependencies, capabilities, confidence.")
            }),
        )
        .api_route(
            "/api/plans/{plan_id}/approve",
            post_with(approve, |op| {
                docs::operator(op, "plans", &[400, 404])
                    .description("Approves a plan that needs review; its waiting executions start.")
            }),
        )
        .api_route(
            "/api/plans/{plan_id}/tasks/{task}",
            put_with(update_task, |op| {
                docs::operator(op, "plans", &[400, 404, 409, 413, 415, 422]).description(
                    "Corrects one leaf (by id or WBS number): its capability, params, timeout or attempts.",
                )
            }),
        )
        .api_route(
            "/api/plans/{plan_id}/decomposition",
            put_with(replace, |op| {
                docs::operator(op, "plans", &[400, 404, 409, 413, 415, 422]).description(
                    "Replaces the decomposition with a manual one (a plan document); it counts as approved.",
                )
            })
            .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
}

/// What was uploaded.
#[derive(Debug)]
pub enum Upload {
    Zip {
        /// The multipart file's own name, when it has one.
        name: Option<String>,
        bytes: axum::body::Bytes,
    },
    Document(PlanDocument),
}

impl FromRequest<AppState> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("application/json") {
            let ApiJson(document) = ApiJson::<PlanDocument>::from_request(req, state).await?;
            return Ok(Self::Document(document));
        }
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state).await.map_err(|e| {
                ApiError::BadRequest(format!("unreadable multipart body: {}", e.body_text()))
            })?;
            // The part named `file` (as the document says), else the first part with a file
            // name; other parts are ignored.
            let mut fallback = None;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| too_large_or_bad(e.status(), e.body_text()))?
            {
                let named_file = field.name() == Some("file");
                if !named_file && (fallback.is_some() || field.file_name().is_none()) {
                    continue;
                }
                let name = field.file_name().map(str::to_owned);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| too_large_or_bad(e.status(), e.body_text()))?;
                if named_file {
                    return Ok(Self::Zip { name, bytes });
                }
                fallback = Some(Self::Zip { name, bytes });
            }
            return fallback
                .ok_or_else(|| ApiError::field("file", "the multipart body holds no file"));
        }
        if content_type.starts_with("application/zip")
            || content_type.starts_with("application/x-zip-compressed")
            || content_type.starts_with("application/octet-stream")
        {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e| too_large_or_bad(e.status(), e.body_text()))?;
            return Ok(Self::Zip { name: None, bytes });
        }
        Err(ApiError::UnsupportedMediaType(format!(
            "send a PlanExe run as application/zip or multipart/form-data, or a plan document as application/json \
             (got {content_type:?})"
        )))
    }
}

fn too_large_or_bad(status: axum::http::StatusCode, text: String) -> ApiError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(text)
    } else {
        ApiError::BadRequest(text)
    }
}

impl OperationInput for Upload {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let document = ctx.schema.subschema_for::<PlanDocument>();
        let binary = schemars::json_schema!({"type": "string", "format": "binary"});
        let form = schemars::json_schema!({
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"]
        });
        let media = |schema: schemars::Schema| MediaType {
            schema: Some(SchemaObject {
                json_schema: schema,
                example: None,
                external_docs: None,
            }),
            ..Default::default()
        };
        operation.request_body = Some(ReferenceOr::Item(RequestBody {
            description: Some("A PlanExe run zip, or a plan document".into()),
            content: IndexMap::from_iter([
                ("application/zip".into(), media(binary)),
                ("multipart/form-data".into(), media(form)),
                ("application/json".into(), media(document)),
            ]),
            required: true,
            extensions: IndexMap::default(),
        }));
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// The zip's file name, kept as its source reference (a multipart file's own name wins).
    name: Option<String>,
    /// Refuse a run whose dependencies name unknown tasks or a task's own phase (else: review).
    strict: Option<bool>,
}

/// Decomposes off the async threads: inflating and parsing a run is CPU work.
async fn decompose(
    upload: Upload,
    options: ImportOptions,
    kind: Option<PlanSourceKind>,
) -> Result<Decomposition, ApiError> {
    tokio::task::spawn_blocking(move || match upload {
        Upload::Zip { name, bytes } => {
            let name = name.unwrap_or_else(|| "upload.zip".into());
            planexec_decompose::decompose_zip_with(&name, &bytes, &options)
        }
        Upload::Document(mut document) => {
            if let Some(kind) = kind {
                document.source.kind = Some(kind);
            }
            planexec_decompose::decompose_document(document)
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

async fn import(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<ImportQuery>,
    mut upload: Upload,
) -> Result<Created<ImportSummary>, ApiError> {
    if let Upload::Zip { name, .. } = &mut upload
        && name.is_none()
    {
        *name = query.name;
    }
    let options = ImportOptions {
        strict: query.strict.unwrap_or(false),
    };
    let decomposition = decompose(upload, options, None).await?;
    let id = planexec_store::plans::write::insert(state.pool(), &decomposition).await?;
    let mut summary = decomposition.summary();
    summary.id = Some(id);
    Ok(Created(summary))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PlanListQuery {
    /// 1..200, default 50.
    #[schemars(range(min = 1, max = 200))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page; empty or absent: the first page.
    #[schemars(regex(pattern = TIME_CURSOR))]
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<PlanListQuery>,
) -> Result<Json<PlanList>, ApiError> {
    let limit = limit(query.limit, 50, 200)?;
    let cursor = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_time_cursor)
        .transpose()?;
    let (plans, next) = planexec_store::plans::read::list(state.pool(), limit, cursor).await?;
    Ok(Json(PlanList {
        plans,
        next_cursor: next.map(|(at, id)| format!("{}.{id}", at.timestamp_micros())),
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
struct PlanPath {
    plan_id: Id,
}

async fn read(state: &AppState, id: Id) -> Result<Plan, ApiError> {
    planexec_store::plans::read::get(state.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan", id))
}

async fn get_one(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<PlanPath>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(read(&state, path.plan_id).await?))
}

async fn approve(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<PlanPath>,
) -> Result<Json<PlanApproved>, ApiError> {
    Ok(Json(
        state
            .coordinator()
            .call(&ApprovePlan {
                plan_id: path.plan_id,
            })
            .await?,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
struct PlanTaskPath {
    plan_id: Id,
    /// A leaf's id or WBS number (`2.3.1`).
    task: String,
}

async fn update_task(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<PlanTaskPath>,
    ApiJson(request): ApiJson<UpdatePlanTaskRequest>,
) -> Result<Json<Plan>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    read(&state, path.plan_id).await?;
    planexec_store::plans::edit::update_leaf(state.pool(), path.plan_id, &path.task, &request)
        .await?;
    Ok(Json(read(&state, path.plan_id).await?))
}

async fn replace(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(path): ApiPath<PlanPath>,
    ApiJson(document): ApiJson<PlanDocument>,
) -> Result<Json<Plan>, ApiError> {
    read(&state, path.plan_id).await?;
    let decomposition = decompose(
        Upload::Document(document),
        ImportOptions::default(),
        Some(PlanSourceKind::Manual),
    )
    .await?;
    planexec_store::plans::edit::replace(state.pool(), path.plan_id, &decomposition).await?;
    // The manual decomposition is an approval: release executions waiting for the review.
    state
        .coordinator()
        .call(&ApprovePlan {
            plan_id: path.plan_id,
        })
        .await?;
    Ok(Json(read(&state, path.plan_id).await?))
}
