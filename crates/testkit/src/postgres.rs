//! A PostgreSQL schema of its own for each test that needs the database: the suite runs against the server at
//! `MESH402_TEST_POSTGRES_URL` (scripts/test.sh sets it to the local server), and runs never see each other's
//! tables.
//!
//! A test that needs PostgreSQL is `#[ignore]`d (see [`crate::tools`]); run, it fails without the variable.

use sqlx::{AssertSqlSafe, Connection};

/// The variable naming the PostgreSQL server the tests use (`postgres://user@host:port/database`).
pub const POSTGRES_VAR: &str = "MESH402_TEST_POSTGRES_URL";

/// A schema made for one test, and the URL that selects it.
#[derive(Debug)]
pub struct TestSchema {
    /// The database URL with `search_path` set to the schema: give it to the store or the server.
    pub url: String,
    /// The schema's name.
    pub name: String,
    server_url: String,
}

/// The PostgreSQL server's URL; panics when it is not given (see the module docs).
pub fn server_url() -> String {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{POSTGRES_VAR} must name the PostgreSQL server for this test (postgres://user@host:port/database); \
             scripts/test.sh sets it"
        ),
    }
}

impl TestSchema {
    /// Makes a fresh, empty schema on the server at `server_url`.
    pub async fn create(server_url: &str) -> TestSchema {
        let name = format!("mesh402_test_{}", hex_suffix());
        let mut connection = sqlx::PgConnection::connect(server_url).await.expect("connecting to PostgreSQL");
        // The name is ours: a fixed prefix and hex digits.
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut connection)
            .await
            .expect("creating a schema");
        connection.close().await.expect("closing the connection");
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{name}");
        TestSchema { url, name, server_url: server_url.to_owned() }
    }

    /// Removes the schema and everything in it.
    pub async fn drop_schema(self) {
        let mut connection = sqlx::PgConnection::connect(&self.server_url).await.expect("connecting to PostgreSQL");
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
            .execute(&mut connection)
            .await
            .expect("dropping the schema");
        connection.close().await.expect("closing the connection");
    }
}

/// Eight random bytes as hex: schema names that two runs never share.
fn hex_suffix() -> String {
    rand::random::<[u8; 8]>().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A PostgreSQL server of a test's own: a cluster made by `initdb` in a temporary directory and started by
/// `pg_ctl` on a free local port, which the test can crash and start again to try what a database restart does
/// to the processes using it. PostgreSQL refuses to run as root, so under root its commands run as the `postgres`
/// user (`runuser`), as the distribution's own service does. Stopped and removed when dropped.
pub struct PrivateServer {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
}

impl PrivateServer {
    /// Makes and starts the cluster; panics with what failed.
    pub fn start() -> PrivateServer {
        let bin = postgres_bin_dir();
        let made = Self::as_postgres(&bin, "mktemp", &["-d", "/tmp/mesh402-pg-XXXXXX"]);
        let dir = std::path::PathBuf::from(made.trim());
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its port").port();
        let server = PrivateServer { bin, dir, port };
        let data = server.dir.join("data");
        let data = data.to_str().expect("a UTF-8 path");
        Self::as_postgres(&server.bin, "initdb", &["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        server.restart();
        server
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash does: no checkpoint, every connection cut.
    pub fn crash(&self) {
        let data = self.dir.join("data");
        Self::as_postgres(&self.bin, "pg_ctl", &["-D", data.to_str().expect("UTF-8"), "-m", "immediate", "-w", "stop"]);
    }

    /// Starts the server (again) and waits until it takes connections.
    pub fn restart(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        Self::as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().expect("UTF-8"), "-o", &options, "-l", log.to_str().expect("UTF-8"), "-w", "start"],
        );
    }

    /// Runs `program` (from PostgreSQL's directory, or the path) as the `postgres` user when this process is root;
    /// returns its standard output, panicking when it fails.
    fn as_postgres(bin: &std::path::Path, program: &str, args: &[&str]) -> String {
        let path = bin.join(program);
        let program = if path.exists() { path.to_string_lossy().into_owned() } else { program.to_owned() };
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0");
        let mut command = if root {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            std::process::Command::new(&program)
        };
        let output = command.args(args).output().unwrap_or_else(|error| panic!("{program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"])
            .output();
        let _ = std::process::Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PostgreSQL's program directory, as `pg_config --bindir` names it (Debian keeps `initdb` and `pg_ctl` there,
/// off the path).
fn postgres_bin_dir() -> std::path::PathBuf {
    let output = std::process::Command::new("pg_config").arg("--bindir").output();
    let dir = output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned()).unwrap_or_default();
    std::path::PathBuf::from(dir)
}
