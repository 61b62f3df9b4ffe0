fn main() -> std::process::ExitCode {
    keyhound::command::main().into()
}
