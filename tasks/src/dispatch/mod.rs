//! The dispatcher: the one place that owns the distribution's CloudFront capacity. It drains
//! the deferral queue (batches the state machine could not invalidate because CloudFront was
//! full or throttling), unions them across executions and plans invalidations that fit the
//! free room ([`plan`]).

mod fold;
pub mod plan;

pub use fold::fit_prefixes;
pub use plan::{
    Capacity, DEFAULT_FOLDED_PATHS, DEFAULT_RESERVED_WILDCARDS, Fold, Plan, PlanPolicy, plan,
};
