//! Reading files a user, an app or a stranger names: regular files only,
//! with a size cap checked before reading, so `/dev/zero`, a FIFO or a
//! 50 GB file cannot exhaust memory or block the host.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default cap: 4 GiB (the largest models with external data aside).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 30;

static MAX_FILE_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_FILE_BYTES);

/// Sets the cap of [`read_file`] for this process (`--max-file-size`).
pub fn set_max_file_bytes(bytes: u64) {
    MAX_FILE_BYTES.store(bytes, Ordering::Relaxed);
}

/// The cap of [`read_file`].
pub fn max_file_bytes() -> u64 {
    MAX_FILE_BYTES.load(Ordering::Relaxed)
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It is a folder, a device, a FIFO or a socket.
    #[error("is not a regular file (it is {0})")]
    NotAFile(&'static str),
    /// It is larger than the cap.
    #[error("is {size} bytes, over the {limit}-byte limit on files read")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// The OS refused.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<ReadError> for std::io::Error {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => e,
            // Kept as the inner error, so a caller can still tell which.
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}

/// Checks that `path` is a regular file within the cap; returns its size.
pub fn check_file(path: &Path) -> Result<u64, ReadError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path)?;
    let t = meta.file_type();
    if !t.is_file() {
        return Err(ReadError::NotAFile(if t.is_dir() {
            "a folder"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a file"
        }));
    }
    let limit = max_file_bytes();
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok(meta.len())
}

/// Reads a whole regular file of at most [`max_file_bytes`]; a file that
/// grows while it is read is cut at the cap plus one byte and refused.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ReadError> {
    let size = check_file(path)?;
    let limit = max_file_bytes();
    let mut bytes = Vec::with_capacity(size as usize);
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_folders_are_refused_before_reading() {
        assert!(matches!(
            read_file(Path::new("/dev/zero")),
            Err(ReadError::NotAFile("a device"))
        ));
        assert!(matches!(
            read_file(Path::new("/")),
            Err(ReadError::NotAFile("a folder"))
        ));
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a valid C path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read_file(&fifo),
            Err(ReadError::NotAFile("a FIFO"))
        ));
    }
}
