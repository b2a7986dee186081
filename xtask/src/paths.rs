//! Where things live: workspace root, `interop/`, `target/`.

use std::path::{Path, PathBuf};

/// Absolute paths xtask works with.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Workspace root (the directory holding the root `Cargo.toml`).
    pub root: PathBuf,
    /// `interop/`: package.json, package-lock.json, the JS scripts, node_modules.
    pub interop: PathBuf,
    /// Cargo's target directory (`$CARGO_TARGET_DIR` or `<root>/target`): pid and log files go there.
    pub target: PathBuf,
}

impl Paths {
    /// Paths of the workspace this xtask was built from.
    pub fn discover() -> Self {
        // xtask/ is a direct child of the root, so the parent of our manifest dir is the root.
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            }
            _ => root.join("target"),
        };
        Paths {
            interop: root.join("interop"),
            root,
            target,
        }
    }

    /// The scriptable JS Fluid client (`interop/fluid-client.mjs`).
    pub fn fluid_client_js(&self) -> PathBuf {
        self.interop.join("fluid-client.mjs")
    }

    /// The launcher that starts Tinylicious bound to 127.0.0.1.
    pub fn tinylicious_launcher(&self) -> PathBuf {
        self.interop.join("tinylicious-launcher.cjs")
    }

    /// `target/tinylicious-<port>.pid`.
    pub fn pid_file(&self, port: u16) -> PathBuf {
        self.target.join(format!("tinylicious-{port}.pid"))
    }

    /// `target/tinylicious-<port>.log`.
    pub fn log_file(&self, port: u16) -> PathBuf {
        self.target.join(format!("tinylicious-{port}.log"))
    }

    /// `target/tinylicious-bench.log`: the server of `cargo xtask bench`.
    pub fn bench_log_file(&self) -> PathBuf {
        self.target.join("tinylicious-bench.log")
    }

    /// The release build of the CLI that `cargo xtask bench` times.
    pub fn release_cli(&self) -> PathBuf {
        self.target.join("release").join("audience")
    }

    /// `docs/BENCHMARKS.md`: the committed results of `cargo xtask bench`.
    pub fn benchmarks_doc(&self) -> PathBuf {
        self.root.join("docs").join("BENCHMARKS.md")
    }

    /// `target/bench/BENCHMARKS-quick.md`: where `cargo xtask bench --quick` writes, so a smoke
    /// test never overwrites the committed results.
    pub fn quick_benchmarks_doc(&self) -> PathBuf {
        self.target.join("bench").join("BENCHMARKS-quick.md")
    }

    /// `target/tinylicious-interop.log`: one name for the random-port servers of `interop`, so
    /// repeated runs overwrite it instead of piling up logs.
    pub fn interop_log_file(&self) -> PathBuf {
        self.target.join("tinylicious-interop.log")
    }
}
