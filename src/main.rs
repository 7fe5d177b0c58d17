//! The `medic` command. See `medic --help`.

/// mimalloc: the stages allocate many small, short-lived strings per record; measured with
/// `medic bench ingest` it is markedly faster than the system allocator here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    medic::cli::main()
}
