//! The local AWS endpoint: moto in server mode, installed into the repository's ignored
//! `.venv/moto` and run on 127.0.0.1 on a free port.
//!
//! [`MotoServer`] owns the process. It is stopped by its PID when dropped (a test that panics
//! still unwinds through the drop), and it also stops by itself when this process goes away
//! without unwinding (Ctrl-C, `panic = "abort"`, SIGKILL): moto is started through a small
//! launcher that watches its stdin, a pipe only this process holds, and exits at end of file.
//! Nothing is left running either way.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The moto release purgeflow is tested against (`pip index versions moto`, Nov 2026).
pub const MOTO_VERSION: &str = "5.2.5";

/// How long moto may take to answer after it was started (a cold Python start on 2 cores
/// imports every service module: a few seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts moto's server and exits when stdin reaches end of file, i.e. when the process that
/// started it is gone, however it went.
const LAUNCHER: &str = r#"
import os, sys, threading
def watch_parent():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=watch_parent, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"#;

/// Where moto is installed: `<repo>/.venv/moto`, ignored by git.
pub fn default_venv() -> PathBuf {
    repo_root().join(".venv").join("moto")
}

/// The repository root: the purgeflow-cli crate lives in `cli/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The virtualenv's Python interpreter.
fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Installs `moto[server]==MOTO_VERSION` into `venv` unless it is already there, saying what it
/// installs on stderr. `python3` with the venv module and network access to PyPI are needed.
pub fn ensure_installed(venv: &Path) -> anyhow::Result<()> {
    // Test processes start side by side: one installs, the others wait for it on this lock.
    let parent = venv.parent().unwrap_or(venv);
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let lock_path = venv.with_extension("install-lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let python = venv_python(venv);
    if python.exists() && installed_version(&python).as_deref() == Some(MOTO_VERSION) {
        return Ok(());
    }
    eprintln!(
        "purgeflow: installing the local AWS endpoint: moto[server]=={MOTO_VERSION} (PyPI) into {} ...",
        venv.display()
    );
    if !python.exists() {
        run_install_step(
            Command::new("python3").args(["-m", "venv"]).arg(venv),
            "python3 -m venv (needs python3 with the venv module, e.g. the python3-venv package)",
        )?;
    }
    run_install_step(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("moto[server]=={MOTO_VERSION}"),
        ]),
        "pip install moto[server] (needs access to PyPI)",
    )?;
    match installed_version(&python) {
        Some(version) if version == MOTO_VERSION => {
            eprintln!("purgeflow: moto {MOTO_VERSION} installed");
            Ok(())
        }
        other => bail!(
            "moto was installed into {} but reports version {other:?}, expected {MOTO_VERSION}",
            venv.display()
        ),
    }
}

fn run_install_step(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn installed_version(python: &Path) -> Option<String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('moto'))",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A running moto server. Dropping it stops the process and waits for it.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    /// Held open for the launcher's watch; closing it (on drop or exit) stops moto.
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
    /// Once moto answered, its log is of no further use and is removed with it; a start-up
    /// failure keeps the log for the error message to point at.
    ready: bool,
}

impl MotoServer {
    /// Installs moto if needed, then starts it on a free port and waits until it answers.
    pub fn start() -> anyhow::Result<MotoServer> {
        let venv = default_venv();
        ensure_installed(&venv)?;
        Self::start_from(&venv)
    }

    /// Starts the moto installed in `venv`.
    pub fn start_from(venv: &Path) -> anyhow::Result<MotoServer> {
        let port = free_port()?;
        let log_dir = repo_root().join(".local").join("moto");
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let log = log_dir.join(format!("moto-{port}.log"));
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(venv_python(venv))
            .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(
                log_file
                    .try_clone()
                    .context("cannot share moto's log file")?,
            )
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start moto from {}", venv.display()))?;
        let mut server = MotoServer {
            stdin: None,
            child,
            port,
            log,
            ready: false,
        };
        server.stdin = server.child.stdin.take();
        server.wait_ready()?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for an HTTP answer from moto's own API, failing early if the process died.
    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot check on moto")? {
                bail!(
                    "moto exited during start-up ({status}); its log {} says:\n{}",
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if answers_http(self.port) {
                self.ready = true;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "moto did not answer on port {} within {READY_TIMEOUT:?}; see {}",
                    self.port,
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Closing stdin alone would stop it; kill + wait makes it immediate and reaps the PID.
        drop(self.stdin.take());
        if let Err(error) = self.child.kill() {
            // Already exited: nothing to stop.
            if error.kind() != std::io::ErrorKind::InvalidInput {
                eprintln!(
                    "purgeflow: could not stop moto (PID {}): {error}",
                    self.child.id()
                );
            }
        }
        let _ = self.child.wait();
        if self.ready {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A port nothing listens on right now (the OS picks it; the tiny window before moto binds it is
/// acceptable for a local tool, and a clash shows up as moto failing to start).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .context("cannot find a free local port")?;
    Ok(listener
        .local_addr()
        .context("cannot read the free port")?
        .port())
}

/// Whether an HTTP request to moto's dashboard API gets any HTTP answer.
fn answers_http(port: u16) -> bool {
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let Ok(mut stream) = TcpStream::connect_timeout(&address.into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "GET /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable() {
        let port = free_port().expect("a free port");
        assert_ne!(port, 0);
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).expect("still free");
    }

    #[test]
    fn nothing_listening_is_not_ready() {
        let port = free_port().expect("a free port");
        assert!(!answers_http(port));
    }
}
