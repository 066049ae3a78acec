//! Compiles `proto/ensweep/v1/ensweep.proto` with protox (pure Rust, so no system `protoc`
//! is needed) and generates prost messages plus tonic stubs gated by the crate features.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["ensweep/v1/ensweep.proto"], ["../../proto"])?;
    tonic_prost_build::configure()
        .build_client(std::env::var_os("CARGO_FEATURE_CLIENT").is_some())
        .build_server(std::env::var_os("CARGO_FEATURE_SERVER").is_some())
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=../../proto");
    Ok(())
}
