//! Uploaded files on disk, named by their SHA-256.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A folder of files named by the SHA-256 of their bytes
/// (`ab/abcdef….bin`). Writes are atomic: a file is complete or absent.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// The store in `root` (created if absent).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(ContentStore {
            root: root.to_owned(),
        })
    }

    /// Where the file of `sha256` lives (it may not exist). `None` for a
    /// name that is not 64 lowercase hex digits.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let hex = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        hex.then(|| self.root.join(&sha256[..2]).join(format!("{sha256}.bin")))
    }

    /// Stores `bytes`; gives their SHA-256 and whether they were new.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<(String, bool)> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.path(&sha).expect("a SHA-256 is 64 hex digits");
        if path.is_file() {
            return Ok((sha, false));
        }
        let dir = path.parent().expect("two levels");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok((sha, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_are_stored_once_under_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let (a, new) = store.put(b"model").unwrap();
        assert!(new);
        assert_eq!(a, hex::encode(Sha256::digest(b"model")));
        let (b, new) = store.put(b"model").unwrap();
        assert_eq!((b.as_str(), new), (a.as_str(), false));
        assert_eq!(std::fs::read(store.path(&a).unwrap()).unwrap(), b"model");
        assert!(store.path("../../etc/passwd").is_none());
        assert!(store.path(&a.to_uppercase()).is_none());
    }
}
