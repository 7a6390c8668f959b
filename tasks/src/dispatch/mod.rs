//! The dispatcher: the one place that owns the distribution's CloudFront capacity. It drains
//! the deferral queue (batches the state machine could not invalidate because CloudFront was
//! full or throttling), unions them across executions and plans invalidations that fit the
//! free room ([`plan()`]).
//!
//! - [`plan()`]: the planner, a plain function (also used by `purgeflow local` and `purgeflow
//!   simulate`); [`fit_prefixes`]: its partial-name prefix wildcards;
//! - `capacity`: what is in progress, from CloudFront (features `cloudfront`);
//! - `messages`: reading the queue's messages; `handler`: one invocation (features `cloudfront`
//!   and `sns`);
//! - `requeue`: the short visibility of the messages an invocation returns (feature `sqs`);
//! - `extra`: one invocation over its event and more of the queue (all three features).

#[cfg(feature = "cloudfront")]
pub mod capacity;
#[cfg(all(feature = "cloudfront", feature = "sns", feature = "sqs"))]
pub mod extra;
mod fold;
#[cfg(all(feature = "cloudfront", feature = "sns", feature = "kms"))]
pub mod handler;
pub mod messages;
pub mod plan;
#[cfg(feature = "sqs")]
pub mod requeue;

pub use fold::fit_prefixes;
#[cfg(all(feature = "cloudfront", feature = "sns", feature = "kms"))]
pub use handler::{Dispatcher, Outcome, dispatch};
pub use plan::{
    Capacity, DEFAULT_FOLDED_PATHS, DEFAULT_RESERVED_WILDCARDS, Fold, Plan, PlanPolicy, plan,
};

#[cfg(all(test, feature = "cloudfront", feature = "sns", feature = "kms"))]
mod handler_tests;
