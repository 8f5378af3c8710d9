//! What the index knows about an article.

use erpbridge_model::Article;
use std::collections::HashMap;

/// The searchable text of one article, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleDoc {
    pub local_id: u64,
    pub erp_id: String,
    pub number: String,
    pub names: String,
    pub descriptions: String,
    pub attributes: String,
    pub categories: Vec<String>,
    pub category_names: String,
}

impl ArticleDoc {
    /// Builds the document; `category_names` maps a category id to its names (all
    /// languages, space separated), unknown categories contribute only their id.
    pub fn from_article(
        local_id: u64,
        article: &Article,
        category_names: &HashMap<String, String>,
    ) -> Self {
        let join = |values: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for value in values {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(value);
            }
            out
        };
        let mut attribute_text = String::with_capacity(article.attributes.len() * 12);
        for attribute in &article.attributes {
            if !attribute_text.is_empty() {
                attribute_text.push(' ');
            }
            attribute_text.push_str(&attribute.value);
            if let Some(unit) = &attribute.unit {
                attribute_text.push(' ');
                attribute_text.push_str(unit);
            }
        }
        ArticleDoc {
            local_id,
            erp_id: article.id.0.clone(),
            number: article.number.clone(),
            names: join(&mut article.names.values().map(String::as_str)),
            descriptions: join(&mut article.descriptions.values().map(String::as_str)),
            attributes: attribute_text,
            categories: article.categories.iter().map(|c| c.0.clone()).collect(),
            category_names: join(
                &mut article
                    .categories
                    .iter()
                    .filter_map(|c| category_names.get(c.as_str()).map(String::as_str)),
            ),
        }
    }
}
