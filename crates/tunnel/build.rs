//! Generates the tunnel's Rust types and tonic stubs from `proto/` with protox (no system
//! `protoc`). The provider protocol's messages it imports are not generated again: they
//! map to `erpbridge_remote::proto`, so one Rust type exists per wire message.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let file = root.join("erpbridge/tunnel/v1/tunnel.proto");
    let imported = root.join("erpbridge/provider/v1/provider.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    println!("cargo:rerun-if-changed={}", imported.display());
    let descriptors = protox::compile([&file], [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .extern_path(".erpbridge.provider.v1", "::erpbridge_remote::proto")
        .compile_fds(descriptors)?;
    Ok(())
}
