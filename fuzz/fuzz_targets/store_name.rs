//! The store's id-to-file-name encoding on any id: a name is never empty, `.` or `..`, never
//! holds a path separator or a NUL, never starts with a dot, and reads back as the same id.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessionstats::fetch::store::{file_stem, id_from_stem};

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    let Some(stem) = file_stem(id) else {
        return;
    };
    assert!(!stem.is_empty() && stem.len() <= 200);
    assert!(!stem.contains('/') && !stem.contains('\\') && !stem.contains('\0'));
    assert!(!stem.starts_with('.'), "{stem:?}");
    let name = format!("{stem}.json");
    assert!(name != "." && name != "..");
    assert!(std::path::Path::new(&name).components().count() == 1);
    assert!(stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(&b)));
    assert_eq!(id_from_stem(&stem).as_deref(), Some(id));
});
