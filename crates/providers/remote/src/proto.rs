//! The generated protocol types and tonic stubs (`erpbridge.provider.v1`), plus the
//! two google.rpc messages errors travel in.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("erpbridge.provider.v1");

/// `google.rpc.Status`, wire-compatible with the standard message: the payload of the
/// `grpc-status-details-bin` trailer. Written out by hand because it is three fields and
/// pulling in the googleapis protos for it would cost more than it saves.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: ::prost::alloc::string::String,
    #[prost(message, repeated, tag = "3")]
    pub details: ::prost::alloc::vec::Vec<Any>,
}

/// `google.protobuf.Any`, wire-compatible.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: ::prost::alloc::string::String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: ::prost::alloc::vec::Vec<u8>,
}

/// The type URL of [`ErrorDetail`] inside an [`Any`].
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/erpbridge.provider.v1.ErrorDetail";
