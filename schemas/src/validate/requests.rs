//! The rules of the API's request bodies: agents, executions, corrections of a plan's leaf.

use std::collections::HashSet;

use super::{FieldError, Validate, capability_name, limits, nul_free_json, range_u32, text};
use crate::api::{
    CreateExecutionRequest, RegisterAgentRequest, UpdateAgentRequest, UpdateExecutionRequest,
    UpdatePlanTaskRequest,
};

impl Validate for RegisterAgentRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        text(errors, "name", &self.name, limits::NAME, true);
        text(errors, "role", &self.role, limits::LABEL, false);
        capabilities(errors, &self.capabilities);
    }
}

impl Validate for UpdateAgentRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if let Some(name) = &self.name {
            text(errors, "name", name, limits::NAME, true);
        }
        if let Some(role) = &self.role {
            text(errors, "role", role, limits::LABEL, false);
        }
        if let Some(list) = &self.capabilities {
            capabilities(errors, list);
        }
        if self.name.is_none() && self.role.is_none() && self.capabilities.is_none() {
            errors.push(FieldError::new(
                "",
                "give at least one of name, role, capabilities",
            ));
        }
    }
}

fn capabilities(errors: &mut Vec<FieldError>, list: &[String]) {
    if list.is_empty() {
        errors.push(FieldError::new(
            "capabilities",
            "an agent needs at least one capability",
        ));
    }
    if list.len() > limits::CAPABILITIES {
        errors.push(FieldError::new(
            "capabilities",
            format!("at most {} capabilities", limits::CAPABILITIES),
        ));
    }
    let mut seen = HashSet::new();
    for (i, c) in list.iter().enumerate() {
        capability_name(errors, &format!("capabilities[{i}]"), c);
        if !seen.insert(c) {
            errors.push(FieldError::new(
                format!("capabilities[{i}]"),
                format!("{c:?} is listed twice"),
            ));
        }
    }
}

impl Validate for CreateExecutionRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        range_u32(
            errors,
            "max_parallel",
            self.max_parallel,
            1,
            limits::MAX_PARALLEL,
        );
    }
}

impl Validate for UpdateExecutionRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if let Some(reason) = &self.reason {
            text(errors, "reason", reason, limits::TEXT, false);
        }
    }
}

impl Validate for UpdatePlanTaskRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if let Some(c) = &self.capability {
            capability_name(errors, "capability", c);
        }
        if let Some(params) = &self.params {
            nul_free_json(errors, "params", params);
        }
        range_u32(
            errors,
            "timeout_seconds",
            self.timeout_seconds,
            1,
            limits::TIMEOUT_SECONDS,
        );
        range_u32(
            errors,
            "max_attempts",
            self.max_attempts,
            1,
            limits::MAX_ATTEMPTS,
        );
        if self.capability.is_none()
            && self.params.is_none()
            && self.timeout_seconds.is_none()
            && self.max_attempts.is_none()
        {
            errors.push(FieldError::new(
                "",
                "nothing to change: give capability, params, timeout_seconds or max_attempts",
            ));
        }
    }
}
