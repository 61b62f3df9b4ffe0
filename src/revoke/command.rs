//! `keyhound revoke`.

use crate::cli::RevokeArgs;
use crate::exit::ExitStatus;

pub fn run(_args: RevokeArgs) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("keyhound revoke is not available in this build")
}
