//! The generated tunnel types and tonic stubs (`erpbridge.tunnel.v1`). The provider
//! protocol messages they carry are `erpbridge_remote::proto`'s own types.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("erpbridge.tunnel.v1");
