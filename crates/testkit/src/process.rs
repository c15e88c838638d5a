//! The real `mesh402` binary as child processes for end-to-end tests and benchmarks: `serve` started on port 0
//! with a temporary data directory, its address read from the line it prints once listening; `worker` started
//! on a shared data directory, ready once it says it takes jobs. Both are killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Starts `binary <command…> --data-dir DIR <args…>` with `env`, warnings-only logs and its stdout piped (where
/// it says when it is ready); returns the child and its stdout.
fn spawn_mesh402(
    binary: &Path,
    command: &[&str],
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(binary)
        .args(command)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .envs(env.iter().copied())
        .env("MESH402_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the mesh402 binary starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    (child, stdout)
}

/// A running `mesh402 serve`; killed when dropped.
pub struct ServerProcess {
    /// The child process.
    pub child: Child,
    /// Base URL of the public listener, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The metrics URL (`…/metrics`), when the server was started with `--metrics-listen`.
    pub metrics_url: Option<String>,
    /// How many unfinished jobs it resumed at start-up.
    pub resumed: usize,
    /// Its data directory (removed with the temporary directory, if the process made it).
    pub data_dir: PathBuf,
    _owned_dir: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts `binary serve` on a fresh temporary data directory with `extra_args`.
    pub fn start(binary: &Path, extra_args: &[&str]) -> ServerProcess {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = ServerProcess::start_in(binary, dir.path(), extra_args);
        server._owned_dir = Some(dir);
        server
    }

    /// Like [`start`](Self::start), with environment variables (secrets a test passes the way an operator
    /// would, never as arguments).
    pub fn start_with_env(binary: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = ServerProcess::spawn(binary, dir.path(), extra_args, env);
        server._owned_dir = Some(dir);
        server
    }

    /// Starts `binary serve` on `data_dir` (kept after the process ends: restart tests reuse it).
    pub fn start_in(binary: &Path, data_dir: &Path, extra_args: &[&str]) -> ServerProcess {
        ServerProcess::spawn(binary, data_dir, extra_args, &[])
    }

    /// Like [`start_in`](Self::start_in), with environment variables.
    pub fn start_in_with_env(
        binary: &Path,
        data_dir: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        ServerProcess::spawn(binary, data_dir, extra_args, env)
    }

    fn spawn(binary: &Path, data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        // The test's own HTTP clients use rustls with the ring provider, as the binary does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (child, mut stdout) =
            spawn_mesh402(binary, &["serve", "--listen", "127.0.0.1:0"], data_dir, extra_args, env);
        let mut metrics_url = None;
        loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).expect("reading the server's stdout");
            assert!(read > 0, "the server exited before it listened");
            if let Some(url) = line.strip_prefix("mesh402 metrics on ") {
                metrics_url = Some(url.trim().to_owned());
                continue;
            }
            // "mesh402 listening on http://ADDR (resumed N unfinished jobs)"
            let rest = line.strip_prefix("mesh402 listening on ").expect("the listening line");
            let mut words = rest.split_whitespace();
            let url = words.next().expect("the URL").to_owned();
            let resumed = words.nth(1).and_then(|count| count.parse().ok()).expect("the resumed count");
            return ServerProcess {
                child,
                url,
                metrics_url,
                resumed,
                data_dir: data_dir.to_path_buf(),
                _owned_dir: None,
            };
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `mesh402 worker` (with a 3 s lease, so a killed worker's job is requeued soon); killed when dropped.
pub struct WorkerProcess(pub Child);

impl WorkerProcess {
    /// Starts `binary worker` on `data_dir` with `args` and `env` (the database and object store settings), and
    /// waits until it takes jobs.
    pub fn start(binary: &Path, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> WorkerProcess {
        let (child, mut stdout) = spawn_mesh402(binary, &["worker", "--lease-secs", "3"], data_dir, args, env);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reading the worker's stdout");
        assert!(line.starts_with("mesh402 worker taking jobs"), "{line:?}");
        WorkerProcess(child)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
