//! The `medic` command. See `medic --help`.

fn main() -> std::process::ExitCode {
    medic::cli::main()
}
