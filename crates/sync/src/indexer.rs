//! The indexer thread: turns committed store batches into index documents and commits
//! the index now and then.
//!
//! It runs on its own OS thread because building documents and feeding tantivy is CPU
//! work that would otherwise stall the async task writing the next page to the store.
//! It only ever sees batches the store has committed, and each commit's payload is the
//! store sequence of the last batch it fully added, so the index is never ahead of the
//! store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use erpbridge_model::{Article, CatalogRecord};
use erpbridge_search::{ArticleDoc, SearchError, TenantIndex};
use tokio::sync::{mpsc, oneshot};

pub(crate) enum IndexMsg {
    Batch {
        records: Arc<Vec<CatalogRecord>>,
        upserted: Vec<(usize, i64)>,
        replaced: Vec<i64>,
        deleted: Vec<i64>,
        seq: i64,
    },
    Delete {
        local_ids: Vec<i64>,
        seq: i64,
    },
    /// Stored articles whose documents must be rebuilt (replacing the old ones).
    Reindex {
        articles: Vec<(i64, Article)>,
        seq: i64,
    },
    Categories(Arc<HashMap<String, String>>),
    /// Commit everything received, recording at least `seq`; answer when durable.
    Flush {
        seq: i64,
        done: oneshot::Sender<Result<(), String>>,
    },
}

pub(crate) struct Indexer {
    tx: mpsc::Sender<IndexMsg>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CommitPolicy {
    pub every_docs: u64,
    pub every: Duration,
}

impl Indexer {
    pub fn start(index: Arc<TenantIndex>, policy: CommitPolicy) -> Self {
        let (tx, rx) = mpsc::channel(4);
        let thread = std::thread::Builder::new()
            .name(format!("indexer-{}", index.tenant()))
            .spawn(move || run(index, policy, rx))
            .ok();
        Self { tx, thread }
    }

    pub async fn send(&self, msg: IndexMsg) -> Result<(), String> {
        self.tx
            .send(msg)
            .await
            .map_err(|_| "the indexer thread stopped".to_owned())
    }

    /// Commits and waits for it.
    pub async fn flush(&self, seq: i64) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.send(IndexMsg::Flush { seq, done }).await?;
        wait.await
            .map_err(|_| "the indexer thread stopped".to_owned())?
    }

    pub async fn stop(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn run(index: Arc<TenantIndex>, policy: CommitPolicy, mut rx: mpsc::Receiver<IndexMsg>) {
    let mut categories: Arc<HashMap<String, String>> = Arc::new(HashMap::new());
    let mut failed: Option<String> = None;
    let mut pending_docs: u64 = 0;
    let mut pending_seq: Option<i64> = None;
    let mut last_commit = Instant::now();
    let mut docs: Vec<ArticleDoc> = Vec::new();
    while let Some(msg) = rx.blocking_recv() {
        let result: Result<(), SearchError> = match msg {
            IndexMsg::Categories(map) => {
                categories = map;
                Ok(())
            }
            _ if failed.is_some() => match msg {
                IndexMsg::Flush { done, .. } => {
                    let _ = done.send(Err(failed.clone().unwrap_or_default()));
                    Ok(())
                }
                _ => Ok(()),
            },
            IndexMsg::Batch {
                records,
                upserted,
                replaced,
                deleted,
                seq,
            } => {
                docs.clear();
                for (i, local) in &upserted {
                    if let Some(CatalogRecord::Article(article)) = records.get(*i) {
                        docs.push(ArticleDoc::from_article(
                            *local as u64,
                            article,
                            &categories,
                        ));
                    }
                }
                let gone: Vec<u64> = replaced
                    .iter()
                    .chain(deleted.iter())
                    .map(|id| *id as u64)
                    .collect();
                pending_docs += docs.len() as u64 + gone.len() as u64;
                pending_seq = Some(seq);
                index.delete(&gone).and_then(|()| index.add_new(&docs))
            }
            IndexMsg::Reindex { articles, seq } => {
                docs.clear();
                docs.extend(articles.iter().map(|(local, article)| {
                    ArticleDoc::from_article(*local as u64, article, &categories)
                }));
                pending_docs += docs.len() as u64;
                pending_seq = Some(seq);
                index.upsert(&docs)
            }
            IndexMsg::Delete { local_ids, seq } => {
                let ids: Vec<u64> = local_ids.iter().map(|id| *id as u64).collect();
                pending_docs += ids.len() as u64;
                pending_seq = Some(seq);
                index.delete(&ids)
            }
            IndexMsg::Flush { seq, done } => {
                let seq = pending_seq.map_or(seq, |p| p.max(seq));
                let result = index.commit(seq);
                pending_docs = 0;
                pending_seq = None;
                last_commit = Instant::now();
                let _ = done.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                result
            }
        };
        if let Err(err) = result {
            tracing::error!(tenant = index.tenant(), %err, "indexing failed");
            failed = Some(err.to_string());
            continue;
        }
        if let Some(seq) = pending_seq
            && (pending_docs >= policy.every_docs || last_commit.elapsed() >= policy.every)
        {
            if let Err(err) = index.commit(seq) {
                tracing::error!(tenant = index.tenant(), %err, "index commit failed");
                failed = Some(err.to_string());
            }
            pending_docs = 0;
            pending_seq = None;
            last_commit = Instant::now();
        }
    }
}
