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
