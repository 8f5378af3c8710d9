//! Provider errors over gRPC.
//!
//! A failed call ends with a gRPC status code chosen by the error's kind, and, in the
//! standard `grpc-status-details-bin` trailer, a `google.rpc.Status` whose details hold
//! one [`pb::ErrorDetail`] (kind, message, retry-after). The detail is authoritative;
//! the code alone is the fallback for peers that do not send one (an unhandled exception
//! in a provider, a proxy, the transport itself). The table is in
//! docs/provider-protocol.md, "Errors".

use std::time::Duration;

use erpbridge_provider::{ErrorKind, ProviderError};
use prost::Message;
use tonic::{Code, Status};

use crate::convert::{error_kind, error_kind_to_wire};
use crate::proto as pb;

/// The code a provider sends for each kind.
pub fn code_for(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Transient => Code::Aborted,
        ErrorKind::Fatal => Code::FailedPrecondition,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::Unavailable => Code::Unavailable,
    }
}

/// The kind a status code means when the status carries no [`pb::ErrorDetail`].
///
/// Unknown and internal errors count as transient: they are what an unhandled exception
/// or a connection torn down mid-call look like, and treating them as fatal would
/// dead-letter an order for a hiccup. Retries are bounded by the caller's policy.
pub fn kind_for(code: Code) -> ErrorKind {
    match code {
        Code::NotFound => ErrorKind::NotFound,
        Code::Unavailable | Code::ResourceExhausted => ErrorKind::Unavailable,
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::Unimplemented
        | Code::AlreadyExists => ErrorKind::Fatal,
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Internal
        | Code::DataLoss => ErrorKind::Transient,
    }
}

/// A provider error as the status a server returns.
pub fn to_status(err: &ProviderError) -> Status {
    to_status_with_code(err, code_for(err.kind))
}

/// Like [`to_status`] with an explicit code (e.g. `INVALID_ARGUMENT` for a request the
/// server could not decode).
pub fn to_status_with_code(err: &ProviderError, code: Code) -> Status {
    let detail = pb::ErrorDetail {
        kind: error_kind_to_wire(err.kind),
        message: err.message.clone(),
        retry_after_ms: err.retry_after.map(|d| d.as_millis() as u64),
    };
    let rpc_status = pb::RpcStatus {
        code: code as i32,
        message: err.message.clone(),
        details: vec![pb::Any {
            type_url: pb::ERROR_DETAIL_TYPE_URL.to_owned(),
            value: detail.encode_to_vec(),
        }],
    };
    Status::with_details(code, err.message.clone(), rpc_status.encode_to_vec().into())
}

/// The [`pb::ErrorDetail`] in a status, if it carries a well-formed one.
pub fn detail_of(status: &Status) -> Option<pb::ErrorDetail> {
    let details = status.details();
    if details.is_empty() {
        return None;
    }
    let rpc_status = pb::RpcStatus::decode(details).ok()?;
    rpc_status
        .details
        .into_iter()
        .find(|any| any.type_url == pb::ERROR_DETAIL_TYPE_URL)
        .and_then(|any| pb::ErrorDetail::decode(any.value.as_slice()).ok())
}

/// A status received from a provider as the SDK error. `operation` names the call for
/// the message. A malformed or unknown detail falls back to the code, never panics.
pub fn from_status(operation: &str, status: &Status) -> ProviderError {
    if let Some(detail) = detail_of(status)
        && let Ok(kind) = error_kind(detail.kind)
    {
        let mut err = ProviderError::new(kind, detail.message);
        if let Some(ms) = detail.retry_after_ms {
            err = err.with_retry_after(Duration::from_millis(ms));
        }
        return err;
    }
    ProviderError::new(
        kind_for(status.code()),
        format!(
            "remote provider `{operation}`: {:?}: {}",
            status.code(),
            status.message()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_a_status_with_its_retry_hint() {
        for kind in [
            ErrorKind::Transient,
            ErrorKind::Fatal,
            ErrorKind::NotFound,
            ErrorKind::Unavailable,
        ] {
            let err =
                ProviderError::new(kind, "boom").with_retry_after(Duration::from_millis(1500));
            let status = to_status(&err);
            assert_eq!(status.code(), code_for(kind));
            assert_eq!(from_status("op", &status), err);
            // Without the detail the code alone still gives the same kind.
            let bare = Status::new(status.code(), "boom");
            assert_eq!(from_status("op", &bare).kind, kind);
        }
    }

    #[test]
    fn garbage_details_fall_back_to_the_code() {
        let status = Status::with_details(Code::NotFound, "x", vec![0xff, 0x01, 0x02].into());
        assert_eq!(from_status("op", &status).kind, ErrorKind::NotFound);
    }
}
