//! Plans, split by what is done to them: [`write`] stores a decomposition as a new plan, [`read`]
//! serves the API and the coordinator (status, lists, the whole tree), [`edit`] holds an
//! operator's changes (approval, a corrected leaf, a replaced decomposition).
//!
//! A decomposition is stored in one transaction, so a failed import leaves nothing behind.

pub mod edit;
pub mod read;
pub mod write;
