//! argon2's working memory, mapped straight from the OS and handed back to it whole.
//!
//! Why not the global allocator: a hash at OWASP's parameters fills 19 MiB. Freed, such a
//! block went back to mimalloc, which keeps freed memory resident for a while in case it is
//! wanted again, while the next hash, often on another blocking-pool thread, took fresh
//! memory beside it: a sign-in flood held two or three of these blocks at once, and the
//! blocks of past hashes stayed resident under the load that followed (issue 8, peak RSS).
//! A private anonymous mapping has no such cache: dropping a [`Memory`] unmaps it, and its
//! pages leave the process at once.
//!
//! Mapping fresh memory for every hash would cost the faults of 4,864 pages each time (on
//! the benchmark machine a 13 ms hash took 25 ms), so a `Memory` keeps its mapping from one
//! hash to the next, and its owner decides when to let it go (see `blocking`). argon2 needs
//! no zeroed memory: its first pass writes every block before any is read.

use std::io;
#[cfg(unix)]
use std::ptr::NonNull;

use argon2::Block;

/// Memory for argon2 blocks, mapped on first use and unmapped when dropped.
#[derive(Default)]
pub(super) struct Memory {
    mapping: Option<Mapping>,
}

impl Memory {
    /// The first `len` blocks of this memory, mapping a larger region first when it has
    /// fewer; their contents are whatever the last hash left there. Fails when the OS
    /// refuses the memory, or for no blocks at all.
    pub(super) fn blocks(&mut self, len: usize) -> io::Result<&mut [Block]> {
        if self.mapping.as_ref().is_none_or(|mapping| mapping.len < len) {
            // The old mapping goes first, so two are never resident at once.
            self.mapping = None;
            self.mapping = Some(Mapping::new(len)?);
        }
        match &mut self.mapping {
            Some(mapping) => Ok(&mut mapping.blocks()[..len]),
            None => Err(io::ErrorKind::OutOfMemory.into()),
        }
    }
}

/// A private anonymous mapping holding `len` blocks.
#[cfg(unix)]
struct Mapping {
    start: NonNull<Block>,
    len: usize,
}

// SAFETY: a Mapping owns its memory exclusively, like a Box<[Block]>; moving it to another
// thread moves that ownership.
#[cfg(unix)]
unsafe impl Send for Mapping {}

#[cfg(unix)]
impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        let bytes = len.checked_mul(size_of::<Block>()).filter(|&bytes| bytes > 0);
        let Some(bytes) = bytes else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        // SAFETY: a new private anonymous mapping at an address the kernel picks: it aliases
        // no existing memory, and failure is reported as MAP_FAILED.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // A successful mmap never returns null; page alignment exceeds Block's 64 bytes.
        let start = NonNull::new(start.cast::<Block>()).ok_or(io::ErrorKind::OutOfMemory)?;
        Ok(Self { start, len })
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: the mapping is page-aligned, `len` blocks long, readable and writable, and
        // lives as long as `self`, which this borrow holds exclusively. The kernel fills it
        // with zeros and argon2 with integers: a Block is plain u64s, valid in any state.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

#[cfg(unix)]
impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, which nothing borrows any more.
        // munmap only fails for a range that is not a mapping.
        unsafe {
            libc::munmap(self.start.as_ptr().cast(), self.len * size_of::<Block>());
        }
    }
}

/// Without `mmap`, blocks from the global allocator, as the argon2 crate itself takes them.
#[cfg(not(unix))]
struct Mapping {
    blocks: Box<[Block]>,
    len: usize,
}

#[cfg(not(unix))]
impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        Ok(Self { blocks: vec![Block::new(); len].into_boxed_slice(), len })
    }

    fn blocks(&mut self) -> &mut [Block] {
        &mut self.blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Block exposes no fields: compare them through their Debug output.
    fn is_zero(block: &Block) -> bool {
        format!("{block:?}") == format!("{:?}", Block::new())
    }

    #[test]
    fn new_memory_is_zeroed_and_as_long_as_asked() {
        let mut memory = Memory::default();
        let blocks = memory.blocks(19 * 1024).expect("19 MiB");
        assert_eq!(blocks.len(), 19 * 1024);
        assert!(is_zero(&blocks[0]) && is_zero(&blocks[19 * 1024 - 1]));
    }

    #[test]
    fn memory_is_kept_for_smaller_asks_and_replaced_for_larger_ones() {
        let mut memory = Memory::default();
        let first = memory.blocks(64).expect("64 blocks").as_ptr();
        assert_eq!(memory.blocks(32).expect("32 blocks").as_ptr(), first);
        assert_eq!(memory.blocks(32).expect("32 blocks").len(), 32);
        let larger = memory.blocks(4096).expect("4096 blocks");
        assert_eq!(larger.len(), 4096);
        assert!(is_zero(&larger[4095]));
    }

    #[test]
    fn no_blocks_are_refused() {
        assert!(Memory::default().blocks(0).is_err());
    }
}
