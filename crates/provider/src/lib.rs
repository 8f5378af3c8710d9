//! The provider SDK: what an ERP backend can do ([`Provider`], [`BlockingSession`]), how
//! it describes itself ([`ProviderDescription`]), how it fails ([`ProviderError`]), and
//! the runtime that hosts backends under the constraints of real ERP SDKs (one thread per
//! session, expensive serialised logins, deadlines, circuit breaking, coalescing).

pub mod api;
pub mod describe;
pub mod error;
pub mod runtime;
pub mod traits;

pub use api::*;
pub use describe::*;
pub use error::*;
pub use traits::*;
