//! Exit codes, as CI systems read them.

/// 0: nothing found; 1 (or `--exit-code N`): findings; 2: an error stopped the run or a named input was unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Clean,
    Findings(u8),
    Error,
}

/// The default code for "findings were reported".
pub const FINDINGS_EXIT_CODE: u8 = 1;
pub const ERROR_EXIT_CODE: u8 = 2;

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Findings(code) => code,
            ExitStatus::Error => ERROR_EXIT_CODE,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}
