//! The `kvip` binary: see [`kvip_runtime::cli`].

fn main() -> std::process::ExitCode {
    kvip_runtime::cli::main()
}
