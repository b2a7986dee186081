//! Installing the pinned JS packages of `interop/`.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::process;

/// Runs `npm ci` in `interop/` unless `node_modules` is already installed from the current
/// `package-lock.json`.
///
/// Freshness test: npm writes `node_modules/.package-lock.json` at the end of every install, so the
/// install is current when that file is at least as new as `package-lock.json` (and Tinylicious is
/// there). `npm ci` (not `npm install`) because CI must use exactly the committed lock file, and
/// `--ignore-scripts` because nothing we run needs an install script (the only one in the tree,
/// `classic-level`'s native build check, serves a LevelDB store Tinylicious does not use in memory mode)
/// and a fresh CI machine must not depend on a native toolchain.
pub fn ensure_packages(paths: &Paths) -> Result<()> {
    let lock = paths.interop.join("package-lock.json");
    let installed_marker = paths
        .interop
        .join("node_modules")
        .join(".package-lock.json");
    let tinylicious = paths
        .interop
        .join("node_modules")
        .join("tinylicious")
        .join("package.json");
    let lock_time = modified(&lock)?
        .ok_or_else(|| Error::io(format!("reading {}", lock.display()), not_found()))?;
    let up_to_date = tinylicious.is_file()
        && matches!(modified(&installed_marker)?, Some(installed) if installed >= lock_time);
    if up_to_date {
        eprintln!("xtask: npm packages in interop/node_modules are up to date");
        return Ok(());
    }
    eprintln!("xtask: installing npm packages in interop/ (npm ci)");
    process::run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&paths.interop)
            // Keep our stdout clean (`tinylicious start` prints only the URL there).
            .stdout(std::io::stderr()),
    )
}

fn modified(path: &Path) -> Result<Option<SystemTime>> {
    match std::fs::metadata(path) {
        Ok(metadata) => metadata
            .modified()
            .map(Some)
            .map_err(|source| Error::io(format!("reading mtime of {}", path.display()), source)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::io(format!("reading {}", path.display()), source)),
    }
}

fn not_found() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "file is missing")
}
