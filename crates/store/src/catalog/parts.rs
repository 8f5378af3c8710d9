//! An article's child parts (the rows of other tables it owns) and their digests.
//!
//! A changed article used to delete and re-insert all its child rows. In a delta those
//! articles are scattered over the whole catalog, so each rewritten row dirties a page of
//! its own, which the commit and the checkpoint write out again; at 1.5M articles that
//! was most of a delta's time. ERP changes usually touch a price, a name or a few
//! attributes, rarely images, references and categories at once. The article row keeps a
//! digest per part; a new version rewrites only the parts whose digest differs, and
//! finding out costs no read of the child tables.

use erpbridge_model::{Article, ReferenceKind};
use sha2::{Digest as _, Sha256};

/// One child table of an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArticlePart {
    Attributes,
    Categories,
    Images,
    References,
}

/// Bytes per part digest: a SHA-256 prefix, so two different parts of one article never
/// pass for equal in practice (2⁻¹²⁸).
const DIGEST_LEN: usize = 16;

/// The stored `part_digests` value: the digests of [`ArticlePart::ALL`], in that order.
pub(crate) type PartDigests = [u8; DIGEST_LEN * 4];

impl ArticlePart {
    pub(crate) const ALL: [ArticlePart; 4] = [
        ArticlePart::Attributes,
        ArticlePart::Categories,
        ArticlePart::Images,
        ArticlePart::References,
    ];

    pub(crate) fn table(self) -> &'static str {
        match self {
            ArticlePart::Attributes => "catalog_article_attributes",
            ArticlePart::Categories => "catalog_article_categories",
            ArticlePart::Images => "catalog_images",
            ArticlePart::References => "catalog_references",
        }
    }

    fn slot(self) -> std::ops::Range<usize> {
        let i = self as usize;
        i * DIGEST_LEN..(i + 1) * DIGEST_LEN
    }

    /// Whether `stored` (a `part_digests` column, NULL for rows older than digests)
    /// says this part equals the one in `new`.
    pub(crate) fn unchanged(self, stored: Option<&[u8]>, new: &PartDigests) -> bool {
        match stored {
            Some(stored) if stored.len() == new.len() => stored[self.slot()] == new[self.slot()],
            _ => false,
        }
    }
}

/// The digests of every part of `article`.
pub(crate) fn part_digests(article: &Article) -> PartDigests {
    let mut out = [0u8; DIGEST_LEN * 4];
    for part in ArticlePart::ALL {
        let mut h = Feed(Sha256::new());
        match part {
            ArticlePart::Attributes => {
                for a in &article.attributes {
                    h.text(&a.key);
                    h.text(&a.value);
                    h.opt(a.unit.as_deref());
                    h.opt(a.lang.as_deref());
                }
            }
            ArticlePart::Categories => {
                for c in &article.categories {
                    h.text(c.as_str());
                }
            }
            ArticlePart::Images => {
                for i in &article.images {
                    h.text(&i.url);
                    h.opt(i.caption.as_deref());
                    h.0.update(u64::from(i.position).to_le_bytes());
                }
            }
            ArticlePart::References => {
                for r in &article.references {
                    h.text(kind_text(r.kind));
                    h.text(&r.target);
                }
            }
        }
        out[part.slot()].copy_from_slice(&h.0.finalize()[..DIGEST_LEN]);
    }
    out
}

/// Length-prefixed fields, so ("ab", "c") and ("a", "bc") differ.
struct Feed(Sha256);

impl Feed {
    fn text(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
    }

    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.0.update([0u8]),
            Some(s) => {
                self.0.update([1u8]);
                self.text(s);
            }
        }
    }
}

/// How a reference kind is stored (and digested).
pub(crate) fn kind_text(kind: ReferenceKind) -> &'static str {
    match kind {
        ReferenceKind::Accessory => "accessory",
        ReferenceKind::SparePart => "spare_part",
        ReferenceKind::Successor => "successor",
        ReferenceKind::Alternative => "alternative",
        ReferenceKind::Manufacturer => "manufacturer",
        ReferenceKind::Customer => "customer",
        ReferenceKind::Gtin => "gtin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use erpbridge_model::{Attribute, Image};

    fn article() -> Article {
        serde_json::from_value(serde_json::json!({
            "id": "A1", "number": "1", "row_version": 1,
            "categories": ["C1"],
            "attributes": [{"key": "k", "value": "ab", "unit": "mm"}],
            "images": [{"url": "u", "position": 1}],
            "references": [{"kind": "gtin", "target": "4000"}],
        }))
        .unwrap()
    }

    #[test]
    fn each_part_changes_only_its_own_digest() {
        let base = article();
        let digests = part_digests(&base);
        type Edit = fn(&mut Article);
        let edits: [(ArticlePart, Edit); 4] = [
            (ArticlePart::Attributes, |a| a.attributes[0].unit = None),
            (ArticlePart::Categories, |a| a.categories.push("C2".into())),
            (ArticlePart::Images, |a| a.images[0].position = 2),
            (ArticlePart::References, |a| {
                a.references[0].kind = ReferenceKind::Customer
            }),
        ];
        for (changed, edit) in edits {
            let mut next = base.clone();
            edit(&mut next);
            let new = part_digests(&next);
            for part in ArticlePart::ALL {
                assert_eq!(
                    part.unchanged(Some(&digests), &new),
                    part != changed,
                    "{part:?} after editing {changed:?}"
                );
            }
        }
        // A name change touches no part.
        let mut renamed = base.clone();
        renamed.names.insert("de".into(), "neu".into());
        assert_eq!(part_digests(&renamed), digests);
    }

    #[test]
    fn field_boundaries_and_missing_digests_count_as_changes() {
        let mut a = article();
        a.attributes = vec![Attribute {
            key: "ab".into(),
            value: "c".into(),
            unit: None,
            lang: None,
        }];
        let mut b = a.clone();
        b.attributes[0].key = "a".into();
        b.attributes[0].value = "bc".into();
        assert!(!ArticlePart::Attributes.unchanged(Some(&part_digests(&a)), &part_digests(&b)));
        // Rows stored before digests existed (NULL) or with a digest of another length.
        let d = part_digests(&a);
        assert!(!ArticlePart::Images.unchanged(None, &d));
        assert!(!ArticlePart::Images.unchanged(Some(&d[..16]), &d));
        a.images.push(Image {
            url: "x".into(),
            caption: None,
            position: 0,
        });
        assert!(ArticlePart::Attributes.unchanged(Some(&d), &part_digests(&a)));
    }
}
