//! A text column of one row group, built as Parquet's dictionary encoding stores it: each
//! distinct text once, in the order it first appears, and a key per row.
//!
//! polars would build the same from a plain text column, at a cost: it estimates the column's
//! distinct values with a HyperLogLog pass over every cell, then hashes every cell again to
//! find its key. Here a text equal to the column's last one (a session's id, down its rows) is
//! found with one comparison, any other with one hash, and only the distinct texts are fed to
//! the estimate. The estimate depends only on the set of texts hashed (polars' HyperLogLog has
//! a fixed seed), so it is polars' own, and so is the decision it makes: the column is written
//! plain when more than 128 rows are more than three quarters distinct. The file is the same
//! to the byte as polars would write from the plain column.
use crate::report::TextCell;
use anyhow::{bail, Context, Result};
use hashbrown::HashTable;
use polars_arrow::array::{
    Array, BinaryViewArray, DictionaryArray, MutableBinaryViewArray, PrimitiveArray,
};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_compute::hyperloglogplus::HyperLogLog;
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;

/// Columns of at most this many rows are always dictionary-encoded, as polars does.
const ALWAYS_DICTIONARY_ROWS: usize = 128;

pub(super) struct TextColumn {
    /// Whether the column is declared `required` (no row may be null).
    required: bool,
    /// Each row's index into `values` (0 for a null row).
    keys: Vec<u32>,
    /// Which rows hold a text.
    valid: MutableBitmap,
    values: MutableBinaryViewArray<[u8]>,
    /// Keys, found by their value's hash.
    index: HashTable<u32>,
    /// The key of the last row that held a text.
    last: Option<u32>,
    /// Whether that row was pushed since [`TextColumn::forget_repeats`]: only then is a repeat
    /// the spill marks its text.
    last_is_current: bool,
}

impl TextColumn {
    pub fn with_capacity(rows: usize, required: bool) -> TextColumn {
        TextColumn {
            required,
            keys: Vec::with_capacity(rows),
            valid: MutableBitmap::with_capacity(rows),
            values: MutableBinaryViewArray::new(),
            index: HashTable::new(),
            last: None,
            last_is_current: false,
        }
    }

    /// Inlined into the loop over a row's cells, as the spill's encoder is.
    #[inline(always)]
    pub fn push(&mut self, text: Option<&[u8]>) -> Result<()> {
        let Some(text) = text else {
            if self.required {
                bail!("internal error: an empty cell in a column that is never empty");
            }
            self.keys.push(0);
            self.valid.push(false);
            return Ok(());
        };
        let key = match self.last {
            Some(last) if self.values.value(last as usize) == text => last,
            _ => self.key_of(text)?,
        };
        self.last = Some(key);
        self.last_is_current = true;
        self.keys.push(key);
        self.valid.push(true);
        Ok(())
    }

    /// Pushes a cell read back from the spill: a repeat of the last text pushed since
    /// [`TextColumn::forget_repeats`] takes its key with no comparison, anything else is pushed
    /// as [`TextColumn::push`] does.
    #[inline(always)]
    pub fn push_cell(&mut self, cell: TextCell<'_>) -> Result<()> {
        match (cell, self.last) {
            (TextCell::Repeat(_), Some(key)) if self.last_is_current => {
                self.keys.push(key);
                self.valid.push(true);
                Ok(())
            }
            _ => self.push(cell.text()),
        }
    }

    /// Forgets which text was pushed last, for [`TextColumn::push_cell`]: the next rows'
    /// repeats refer to texts read after this (another part of the spill).
    pub fn forget_repeats(&mut self) {
        self.last_is_current = false;
    }

    /// The key of `text`, the next one when it is new (then checked to be UTF-8, which the
    /// file's schema declares).
    fn key_of(&mut self, text: &[u8]) -> Result<u32> {
        let TextColumn { values, index, .. } = self;
        let hash = FxBuildHasher.hash_one(text);
        if let Some(&key) = index.find(hash, |&key| values.value(key as usize) == text) {
            return Ok(key);
        }
        std::str::from_utf8(text).context("internal error: report text is not UTF-8")?;
        let key = u32::try_from(values.len()).context("internal error: a row group too large")?;
        values.push_value(text);
        index.insert_unique(hash, key, |&key| {
            FxBuildHasher.hash_one(values.value(key as usize))
        });
        Ok(key)
    }

    /// polars' estimate of the distinct values of the plain column
    /// (`polars_compute::cardinality::estimate_cardinality`), which counts a null as an empty
    /// text.
    fn estimated_distinct(&self) -> usize {
        if self.keys.is_empty() {
            return 0;
        }
        if self.values.len() == 0 {
            return 1;
        }
        let mut distinct = HyperLogLog::<[u8]>::new();
        for key in 0..self.values.len() {
            distinct.add(self.values.value(key));
        }
        if self.valid.unset_bits() > 0 {
            distinct.add(&[]);
        }
        distinct.count()
    }

    /// Whether `finish` gives a dictionary array: polars' own rule
    /// (`polars_parquet::arrow::write::dictionary::encode_as_dictionary_optional`).
    fn is_dictionary_worth_it(&self) -> bool {
        let rows = self.keys.len();
        rows <= ALWAYS_DICTIONARY_ROWS || (self.estimated_distinct() as f64) / (rows as f64) <= 0.75
    }

    /// The column as an Arrow array: a dictionary of binary views, or plain binary views.
    /// Either is written as Parquet's UTF-8 text, which the schema declares.
    pub fn finish(self) -> Result<Box<dyn Array>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A repeat the spill marks takes the key of the last text pushed only when that text was
    /// pushed since the part began; after `forget_repeats` (a new part, whose first rows may
    /// have been skipped) it is looked up like any text. Fails if a repeat takes a key across
    /// parts, or if a null in between is taken for the text repeated.
    #[test]
    fn a_repeat_takes_the_last_key_only_within_its_part() {
        let a = Some(&b"a"[..]);
        let b = Some(&b"b"[..]);
        let parts = [
            vec![
                TextCell::Value(a),
                TextCell::Repeat(b"a"),
                TextCell::Value(None),
                TextCell::Repeat(b"a"),
            ],
            // Its first row, skipped, held "b": the column never saw it.
            vec![
                TextCell::Repeat(b"b"),
                TextCell::Repeat(b"b"),
                TextCell::Value(a),
                TextCell::Repeat(b"a"),
            ],
        ];
        let mut ours = TextColumn::with_capacity(8, false);
        for part in &parts {
            ours.forget_repeats();
            for &cell in part {
                ours.push_cell(cell).unwrap();
            }
        }
        // Each row as the column holds it, and which distinct texts it holds, in order.
        let rows: Vec<Option<&[u8]>> = (0..ours.keys.len())
            .map(|row| {
                let key = ours.keys[row] as usize;
                ours.valid.get(row).then(|| ours.values.value(key))
            })
            .collect();
        assert_eq!(rows, [a, a, None, a, b, b, a, a]);
        assert_eq!(ours.values.len(), 2, "a text is held twice");
    }
}
