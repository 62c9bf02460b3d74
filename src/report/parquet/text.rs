//! A text column of one row group, built as Parquet's dictionary encoding stores it: each
//! distinct text once, in the order it first appears, and a key per row.
//!
//! polars would build the same from a plain text column, at a cost: it checks each cell is
//! UTF-8, estimates the column's distinct values (a HyperLogLog pass), then hashes every cell
//! to find its key. Here the cells come from the report rows, and a text that equals the row
//! before's (a session's id, down its rows) is found without hashing. The column is written
//! plain, as polars decides, when more than three quarters of more than 128 rows are distinct;
//! polars decides on its estimate, this on the exact count, so the two can differ near that
//! line (in the file's bytes, never in its values).
use hashbrown::HashTable;
use polars::prelude::PolarsResult;
use polars_arrow::array::{
    Array, BinaryViewArray, DictionaryArray, MutableBinaryViewArray, PrimitiveArray,
};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;

/// Columns of at most this many rows are always dictionary-encoded, as polars does.
const ALWAYS_DICTIONARY_ROWS: usize = 128;

pub(super) struct TextColumn {
    /// Each row's index into `values` (0 for a null row).
    keys: Vec<u32>,
    /// Which rows hold a text.
    valid: MutableBitmap,
    values: MutableBinaryViewArray<[u8]>,
    /// Keys, found by their value's hash.
    index: HashTable<u32>,
    /// The key of the last row that held a text.
    last: Option<u32>,
}

impl TextColumn {
    pub fn with_capacity(rows: usize) -> TextColumn {
        TextColumn {
            keys: Vec::with_capacity(rows),
            valid: MutableBitmap::with_capacity(rows),
            values: MutableBinaryViewArray::new(),
            index: HashTable::new(),
            last: None,
        }
    }

    pub fn push(&mut self, text: Option<&[u8]>) {
        let Some(text) = text else {
            self.keys.push(0);
            self.valid.push(false);
            return;
        };
        let key = match self.last {
            Some(last) if self.values.value(last as usize) == text => last,
            _ => self.key_of(text),
        };
        self.last = Some(key);
        self.keys.push(key);
        self.valid.push(true);
    }

    /// The key of `text`, the next one when it is new. A row group's rows fit in a `u32`.
    fn key_of(&mut self, text: &[u8]) -> u32 {
        let TextColumn { values, index, .. } = self;
        let hash = FxBuildHasher.hash_one(text);
        if let Some(&key) = index.find(hash, |&key| values.value(key as usize) == text) {
            return key;
        }
        let key = values.len() as u32;
        values.push_value(text);
        index.insert_unique(hash, key, |&key| {
            FxBuildHasher.hash_one(values.value(key as usize))
        });
        key
    }

    /// Whether `finish` gives a dictionary array (else a plain one).
    fn is_dictionary_worth_it(&self) -> bool {
        let rows = self.keys.len();
        rows <= ALWAYS_DICTIONARY_ROWS || self.values.len() * 4 <= rows * 3
    }

    /// The column as an Arrow array: a dictionary of binary views, or plain binary views.
    /// Either is written as Parquet's UTF-8 text, which the schema declares.
    pub fn finish(self) -> PolarsResult<Box<dyn Array>> {
        let dictionary = self.is_dictionary_worth_it();
        let validity = Some(self.valid.freeze()).filter(|valid| valid.unset_bits() > 0);
        if !dictionary {
            let values = self.values;
            let plain: MutableBinaryViewArray<[u8]> = self
                .keys
                .iter()
                .enumerate()
                .map(|(row, &key)| {
                    let valid = validity.as_ref().is_none_or(|valid| valid.get_bit(row));
                    valid.then(|| values.value(key as usize))
                })
                .collect();
            return Ok(BinaryViewArray::from(plain).boxed());
        }
        let keys = PrimitiveArray::new(ArrowDataType::UInt32, self.keys.into(), validity);
        let values: BinaryViewArray = self.values.into();
        let dtype = ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::BinaryView),
            false,
        );
        Ok(DictionaryArray::try_new(dtype, keys, values.boxed())?.boxed())
    }
}
