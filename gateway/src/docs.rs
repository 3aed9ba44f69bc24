//! Documentation helpers: who may call a route and which problems it can answer, so that the
//! OpenAPI document lists every status a client can see.

use aide::transform::TransformOperation;

use crate::error::ProblemDoc;

/// Adds a problem answer for each status in `codes`.
pub fn problems<'a>(mut op: TransformOperation<'a>, codes: &[u16]) -> TransformOperation<'a> {
    for code in codes {
        op = match code {
            400 => op.response::<400, ProblemDoc>(),
            401 => op.response::<401, ProblemDoc>(),
            403 => op.response::<403, ProblemDoc>(),
            404 => op.response::<404, ProblemDoc>(),
            409 => op.response::<409, ProblemDoc>(),
            413 => op.response::<413, ProblemDoc>(),
            415 => op.response::<415, ProblemDoc>(),
            422 => op.response::<422, ProblemDoc>(),
            500 => op.response::<500, ProblemDoc>(),
            503 => op.response::<503, ProblemDoc>(),
            504 => op.response::<504, ProblemDoc>(),
            _ => op,
        };
    }
    op
}

/// Problems every authenticated route can answer.
const COMMON: [u16; 5] = [401, 403, 500, 503, 504];

/// A route for the operator.
pub fn operator<'a>(
    op: TransformOperation<'a>,
    tag: &str,
    extra: &[u16],
) -> TransformOperation<'a> {
    let op = problems(op.tag(tag).security_requirement("bearer"), &COMMON);
    problems(op, extra)
}

/// A route for an agent (its own token).
pub fn agent<'a>(op: TransformOperation<'a>, tag: &str, extra: &[u16]) -> TransformOperation<'a> {
    operator(op, tag, extra)
}
