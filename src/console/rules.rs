//! The administration rules as the console reports them: the rules themselves live in
//! `crate::rbac::rules` (shared with the admin REST API); this maps their refusals to words and
//! console failures.

use super::failure::Failure;
use crate::rbac::Effective;
use crate::rbac::rules::{self, Refusal as RuleRefusal};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::Value;

pub use crate::rbac::rules::{granted_by, live};

/// A change the rules refuse, in words for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Rule(String),
    Failed(Failure),
}

impl From<RuleRefusal> for Refusal {
    fn from(r: RuleRefusal) -> Self {
        match r.message() {
            Some(m) => {
                let mut m = m;
                if let Some(first) = m.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                Refusal::Rule(format!("{m}."))
            }
            None => match r {
                RuleRefusal::Db(e) => Refusal::Failed(e.into()),
                _ => Refusal::Failed(Failure::Internal),
            },
        }
    }
}

pub fn ensure_holds(actor: &Effective, names: impl IntoIterator<Item = String>) -> Result<(), Refusal> {
    Ok(rules::ensure_holds(actor, names)?)
}

pub async fn ensure_can_assign<C: ConnectionTrait>(db: &C, actor: &Effective, role_ids: &[String]) -> Result<(), Refusal> {
    Ok(rules::ensure_can_assign(db, actor, role_ids).await?)
}

pub async fn ensure_not_last_super_admin<C: ConnectionTrait>(db: &C, user_id: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    Ok(rules::ensure_not_last_super_admin(db, user_id, now).await?)
}

pub async fn end_access(state: &AppState, user_id: &str, now: DateTime<Utc>, access: bool) -> Result<Value, Failure> {
    Ok(rules::end_access(state, user_id, now, access).await?)
}
