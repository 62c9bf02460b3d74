//! A `.json` file read as a stream (a big page's `data`, an array, item by item) and read
//! whole give the same sessions and the same rejects, to the byte of each reason: any bytes,
//! read once with chunks so small that every page over 32 bytes counts as big, once with
//! chunks so large that none does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessionstats::ingest::walk::Layout;
use sessionstats::ingest::{read_chunk, read_chunks, Limits, Reject, RejectReason};

fn read(data: &[u8], chunk_bytes: usize) -> (Vec<String>, Vec<Reject>) {
    let layout = Layout {
        lines: false,
        gzip: false,
    };
    // No document is too large here: read whole, the file is one.
    let limits = Limits {
        max_document_bytes: 1 << 30,
    };
    let (mut ids, mut rejects) = (Vec::new(), Vec::new());
    let open = || Ok::<_, RejectReason>(data);
    read_chunks(
        &open,
        &|| {},
        data.len() as u64,
        layout,
        &limits,
        chunk_bytes,
        &mut |chunk| {
            read_chunk(&chunk, "f.json", 0, &mut rejects, |s| {
                ids.push(s.id.to_owned())
            })
        },
    );
    (ids, rejects)
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(read(data, 16), read(data, 1 << 30));
});
