//! Argon2 whose working memory is given back to the operating system when a hash ends.
//!
//! Why (issue 14, memory flat; measured in BENCHMARKS.md): Argon2id with the OWASP parameters
//! the site uses works in 19 MiB (`m_cost` 19,456 KiB blocks). The `argon2` crate allocates that
//! block with `vec!` for every hash, and glibc's malloc serves a request that large with its own
//! `mmap`, but when that mapping is freed glibc raises its *dynamic* mmap threshold to the
//! freed size (and its trim threshold to twice that, ~40 MB), as `mallopt(3)` describes. From
//! then on the next Argon2 block (the next sign-in) and every other allocation below 19 MiB
//! comes from a malloc arena, and an arena keeps up to 40 MB of freed memory resident. Heaptrack
//! and `/proc/PID/smaps` of a site showed exactly that: a 19.4 MB thread arena from the sign-in's
//! hash, resident through the whole sync, on top of everything the sync itself needed.
//!
//! What this does instead: the same hash (`Argon2::hash_password_into_with_memory`, same
//! algorithm, version and parameters, same PHC strings) into a buffer whose *capacity* is larger
//! than glibc's ceiling for the dynamic threshold (`DEFAULT_MMAP_THRESHOLD_MAX`, 32 MiB on 64-bit
//! systems). glibc always maps such a request on its own and unmaps it on free without moving
//! the threshold, so the block leaves the process when the hash ends. Only the 19 MiB the hash
//! writes are ever touched, so the reserved remainder costs address space, not memory. Other
//! allocators (musl, a global allocator a build might choose) map large requests on their own
//! too; nothing here depends on glibc to be correct, only to be small.
//!
//! The alternatives need `unsafe` (forbidden in this workspace): `mallopt(M_MMAP_THRESHOLD, …)`
//! at start, which fixes the threshold for the whole process, or `malloc_trim(0)` after each
//! hash, which only trims the arena it is called in.
//!
//! Verification is the `password-hash` crate's own (`PasswordVerifier` for every
//! `PasswordHasher`: it recomputes with the stored parameters and compares in constant time).

use argon2::password_hash::{Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// glibc's upper bound for its dynamic mmap threshold on 64-bit systems (`mallopt(3)`:
/// `DEFAULT_MMAP_THRESHOLD_MAX`, 4 × 1024 × 1024 × sizeof(long)). A chunk larger than this is
/// always mapped on its own, and freeing it never moves the threshold.
const MMAP_THRESHOLD_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Argon2 with given algorithm, version and parameters, hashing in its own mapping.
#[derive(Debug, Clone)]
pub struct MappedArgon2 {
    algorithm: Algorithm,
    version: Version,
    params: Params,
}

impl MappedArgon2 {
    pub fn new(algorithm: Algorithm, version: Version, params: Params) -> MappedArgon2 {
        MappedArgon2 { algorithm, version, params }
    }

    /// Hash `pwd` with `salt` into `out` (as `Argon2::hash_password_into`).
    pub fn hash_password_into(&self, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        let mut blocks = working_memory(self.params.block_count());
        argon2.hash_password_into_with_memory(pwd, salt, out, &mut blocks)
    }
}

/// `blocks` zeroed blocks in a buffer whose capacity is above [`MMAP_THRESHOLD_MAX_BYTES`]
/// (see the module doc: capacity beyond the length is reserved, never touched).
fn working_memory(blocks: usize) -> Vec<Block> {
    let capacity = blocks.max(MMAP_THRESHOLD_MAX_BYTES / Block::SIZE + 1);
    let mut memory = Vec::with_capacity(capacity);
    memory.resize(blocks, Block::default());
    memory
}

impl PasswordHasher for MappedArgon2 {
    type Params = Params;

    /// As `argon2`'s own: the salt decoded from base64, the output as long as the parameters say.
    fn hash_password<'a>(
        &self,
        password: &[u8],
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let salt = salt.into();
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let hash = Output::init_with(output_len, |out| Ok(self.hash_password_into(password, salt_bytes, out)?))?;
        Ok(PasswordHash {
            algorithm: self.algorithm.ident(),
            version: Some(self.version.into()),
            params: ParamsString::try_from(&self.params)?,
            salt: Some(salt),
            hash: Some(hash),
        })
    }

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm.map(Algorithm::try_from).transpose()?.unwrap_or_default();
        let version = version.map(Version::try_from).transpose()?.unwrap_or_default();
        MappedArgon2::new(algorithm, version, params).hash_password(password, salt)
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordVerifier, SaltString};

    use super::*;

    fn small() -> Params {
        // Small parameters keep the tests fast; the buffer logic is the same at any size.
        Params::new(64, 1, 1, None).unwrap()
    }

    #[test]
    fn the_hash_is_the_argon2_crates_own_byte_for_byte() {
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        for params in [small(), Params::default()] {
            let ours = MappedArgon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password(b"blue-kettle-river-42", &salt)
                .unwrap()
                .to_string();
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"blue-kettle-river-42", &salt)
                .unwrap()
                .to_string();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn a_hash_verifies_with_either_implementation_and_a_wrong_password_does_not() {
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let ours = MappedArgon2::new(Algorithm::Argon2id, Version::V0x13, small());
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, small())
            .hash_password(b"right-password", &salt)
            .unwrap()
            .to_string();
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(ours.verify_password(b"right-password", &parsed).is_ok());
        assert!(ours.verify_password(b"wrong-password", &parsed).is_err());
        let ours_stored = ours.hash_password(b"right-password", &salt).unwrap().to_string();
        let parsed = PasswordHash::new(&ours_stored).unwrap();
        assert!(Argon2::default().verify_password(b"right-password", &parsed).is_ok());
    }

    #[test]
    fn the_working_memory_is_reserved_above_the_threshold_ceiling_but_only_as_long_as_asked() {
        let memory = working_memory(Params::default().block_count());
        assert_eq!(memory.len(), 19 * 1024);
        assert!(memory.capacity() * Block::SIZE > MMAP_THRESHOLD_MAX_BYTES);
        let big = working_memory(40 * 1024);
        assert_eq!((big.len(), big.capacity()), (40 * 1024, 40 * 1024));
    }
}
