//! Full-text search over ACU text with tantivy.
