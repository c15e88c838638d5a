//! Secrets on disk: 32 random bytes in a file only the server's user can read.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Reads the 32-byte secret at `path`, creating it with fresh random bytes and mode 0600 if it does not exist.
///
/// An existing file must hold exactly 32 bytes and must not be readable by group or others; otherwise this fails
/// rather than use a secret that may have leaked or been truncated.
pub fn load_or_create_secret(path: &Path) -> io::Result<[u8; 32]> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            let secret: [u8; 32] = rand::random();
            file.write_all(&secret)?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let mode = fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is readable by other users (mode {:o}); run chmod 600 on it",
                        path.display(),
                        mode & 0o777
                    ),
                ));
            }
            let mut secret = [0u8; 32];
            let mut file = fs::File::open(path)?;
            file.read_exact(&mut secret)?;
            if file.read(&mut [0u8; 1])? != 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is not 32 bytes", path.display())));
            }
            Ok(secret)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_with_mode_0600_and_reads_back_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
    }

    #[test]
    fn refuses_a_world_readable_or_truncated_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        load_or_create_secret(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load_or_create_secret(&path).unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, [1u8; 10]).unwrap();
        assert!(load_or_create_secret(&path).is_err());
    }
}
