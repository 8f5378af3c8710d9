//! From a request's text to what is matched and how it is scored.
//!
//! A plain query (no query syntax) is a list of words that must all match. A word matches
//! as a whole word in any text field (the query parser's tokens and field boosts, built
//! here per field so that only fields that have the word take part, which keeps a
//! single-word union made of plain term postings that block-max WAND can prune), or, for
//! words of three letters or more, inside a number or name (all its trigrams, at
//! [`INFIX_SCORE`](crate::matching::INFIX_SCORE)).

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, QueryParser, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, Term};

use crate::bounds::BoundTerm;

/// One word of a plain query.
pub(crate) struct Word {
    /// Whole-word matches, one query per field that has the word, in a fixed order (or
    /// the parser's query for a word that splits into several tokens, such as
    /// `142-0000042`).
    pub clauses: Vec<Box<dyn Query>>,
    /// The clauses are single-term queries with frequencies: block-max WAND applies.
    pub terms_only: bool,
    /// The clauses' terms, when every clause is one term: block maxima bound the word's
    /// score ([`crate::bounds`]).
    pub bound_terms: Option<Vec<BoundTerm>>,
    /// Documents with every trigram of the word in a number or name.
    pub infix: Option<Box<dyn Query>>,
}

pub(crate) enum Plan {
    /// No words: everything, or one category. One postings list, so the total is exact
    /// and cheap; every hit of a category scores 0 (ties: ordered by local id).
    Listing {
        query: Box<dyn Query>,
        /// No category: every document.
        everything: bool,
    },
    /// Plain words, all required, optionally within a category.
    Words {
        words: Vec<Word>,
        category: Option<Term>,
    },
    /// Text with query syntax, as the query parser reads it (leniently).
    Parsed(Box<dyn Query>),
}

/// What planning needs of an index.
pub(crate) struct Planner<'a> {
    pub parser: &'a QueryParser,
    /// The tokenizer of the text fields.
    pub words: TextAnalyzer,
    /// The tokenizer of `number_exact`.
    pub exact: TextAnalyzer,
    pub number_exact: Field,
    /// Text fields with their boosts, in scoring order.
    pub text_fields: &'a [(Field, f32)],
    pub grams: Field,
    pub category: Field,
    pub number_exact_boost: f32,
    pub infix_max_docs: u64,
}

impl Planner<'_> {
    pub(crate) fn plan(&mut self, searcher: &Searcher, text: &str, category: Option<&str>) -> Plan {
        let category = category.map(|c| Term::from_field_text(self.category, c));
        let text = text.trim();
        if text.is_empty() {
            let everything = category.is_none();
            let query: Box<dyn Query> = match category {
                None => Box::new(AllQuery),
                Some(term) => Box::new(ConstScoreQuery::new(
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                    0.0,
                )),
            };
            return Plan::Listing { query, everything };
        }
        let syntax = text.contains(|c: char| "\"':+()[]{}^~*!\\".contains(c))
            || text
                .split_whitespace()
                .any(|w| w.starts_with('-') || matches!(w, "AND" | "OR" | "NOT"));
        if syntax {
            // Lenient: a shop's search box must not fail on a stray quote or colon.
            let parsed = self.parser.parse_query_lenient(text).0;
            return Plan::Parsed(match category {
                None => parsed,
                Some(term) => Box::new(BooleanQuery::new(vec![
                    (Occur::Must, parsed),
                    (
                        Occur::Must,
                        Box::new(ConstScoreQuery::new(
                            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                            0.0,
                        )),
                    ),
                ])),
            });
        }
        let words = text
            .split_whitespace()
            .map(|word| self.word(searcher, word))
            .collect();
        Plan::Words { words, category }
    }

    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            tokens.push(token.text.clone());
        }
        tokens
    }

    fn word(&mut self, searcher: &Searcher, word: &str) -> Word {
        let exists = |term: &Term| searcher.doc_freq(term).map_or(true, |df| df > 0);
        let tokens = Self::tokens(&mut self.words, word);
        let (clauses, terms_only, bound_terms) = match tokens.as_slice() {
            [token] => {
                let mut clauses: Vec<Box<dyn Query>> = Vec::new();
                let mut bound_terms: Vec<BoundTerm> = Vec::new();
                let mut terms_only = true;
                // The parser's field order: number, number_exact, then the others.
                let mut push = |field: Field, text: &str, boost: f32, freqs: bool| {
                    let term = Term::from_field_text(field, text);
                    if !exists(&term) {
                        return;
                    }
                    let option = if freqs {
                        IndexRecordOption::WithFreqs
                    } else {
                        terms_only = false;
                        IndexRecordOption::Basic
                    };
                    bound_terms.push(BoundTerm {
                        term: term.clone(),
                        option,
                        boost,
                    });
                    let query: Box<dyn Query> = Box::new(TermQuery::new(term, option));
                    clauses.push(if boost == 1.0 {
                        query
                    } else {
                        Box::new(BoostQuery::new(query, boost))
                    });
                };
                let mut fields = self.text_fields.iter();
                if let Some((number, boost)) = fields.next() {
                    push(*number, token, *boost, true);
                }
                for exact in Self::tokens(&mut self.exact, word) {
                    push(self.number_exact, &exact, self.number_exact_boost, false);
                }
                for (field, boost) in fields {
                    push(*field, token, *boost, true);
                }
                (clauses, terms_only, Some(bound_terms))
            }
            // Several tokens (a phrase per field) or none: the parser's reading of it.
            _ => (vec![self.parser.parse_query_lenient(word).0], false, None),
        };
        Word {
            clauses,
            terms_only,
            bound_terms,
            infix: self.infix(searcher, word),
        }
    }

    /// All trigrams of `word` in the grams field; `None` for words too short or too
    /// common for it, or with a trigram no document has (nothing can match).
    fn infix(&self, searcher: &Searcher, word: &str) -> Option<Box<dyn Query>> {
        let chars: Vec<char> = word.to_lowercase().chars().collect();
        if chars.len() < 3 {
            return None;
        }
        let mut grams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
        grams.sort();
        grams.dedup();
        let terms: Vec<Term> = grams
            .iter()
            .map(|gram| Term::from_field_text(self.grams, gram))
            .collect();
        // A dictionary lookup per trigram; an unreadable count just means "use it".
        let rarest = terms
            .iter()
            .map(|t| searcher.doc_freq(t).unwrap_or(1))
            .min()
            .unwrap_or(0);
        // Intersecting trigrams that most articles have ("ser", "eri", "rie" of "Serie")
        // means walking most of the catalog, and a fragment that common is a common word
        // of the catalog, which whole-word matching already finds.
        if rarest == 0 || rarest > self.infix_max_docs {
            return None;
        }
        Some(Box::new(BooleanQuery::new(
            terms
                .into_iter()
                .map(|term| {
                    (
                        Occur::Must,
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
                    )
                })
                .collect(),
        )))
    }
}
