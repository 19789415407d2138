//! Organizing through the gateway (`tower::ServiceExt::oneshot`): embeddings in the background
//! with progress in status, hybrid search finding known content, related conversations,
//! memories (extraction, consolidation with provenance, CRUD), the context engine, and the
//! Model2Vec embedder on a tiny model written here.
#![allow(clippy::unwrap_used)]

mod api;

use api::{T, open_with as open};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use vivim_node::{
    datadir::DataDir,
    node::Node,
    organize::embed::{Embedder, StaticModel, dot},
    testdata::Rng,
};

impl T {
    async fn ok(&self, method: Method, uri: &str, body: Option<Value>) -> Value {
        let (s, v) = self.send(method, uri, body).await;
        assert!(s.is_success(), "{uri}: {s} {v}");
        v
    }

    async fn capture(
        &self,
        conv: Option<&str>,
        title: &str,
        role: &str,
        text: &str,
        at: u64,
    ) -> String {
        let mut body = json!({ "role": role, "text": text, "title": title, "created_at_ms": at });
        if let Some(c) = conv {
            body["conversation"] = c.into();
        }
        let v = self.ok(Method::POST, "/api/v1/acus", Some(body)).await;
        v["conversation"].as_str().unwrap().to_string()
    }
}

const TOPICS: &[&str] = &[
    "sourdough starter hydration rye flour levain bake oven crumb",
    "rust borrow checker lifetimes ownership trait generics compiler",
    "kubernetes pod deployment helm ingress cluster node autoscaling",
    "marathon training tempo intervals mileage recovery shoes pace",
    "postgres index vacuum query planner replication wal partition",
    "watercolor painting pigments brushes paper washes glazing palette",
    "tax return deductions receipts invoice accountant quarterly filing",
    "guitar chords fingerpicking capo tuning strings fretboard scales",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_search_finds_the_conversation_of_known_content_and_related_follows_topics() {
    let t = open(None).await;
    // 8 topics x 5 conversations x 4 messages; each message mixes its topic's words with
    // generic filler and one unique word pair.
    let mut rng = Rng::new(11);
    let mut convs: Vec<(String, usize, Vec<String>)> = Vec::new();
    let mut export = Vec::new();
    for (ti, topic) in TOPICS.iter().enumerate() {
        let words: Vec<&str> = topic.split(' ').collect();
        for c in 0..5 {
            let mut texts = Vec::new();
            let mut turns = Vec::new();
            for m in 0..4 {
                let mut text = String::new();
                for _ in 0..12 {
                    text.push_str(words[rng.below(words.len() as u64) as usize]);
                    text.push(' ');
                }
                text.push_str(&rng.words(10));
                text.push_str(&format!(" uniq{ti}x{c}x{m} marker{}", rng.below(1_000_000)));
                let from = if m % 2 == 0 { "human" } else { "gpt" };
                turns.push(json!({"from": from, "value": text}));
                texts.push(text);
            }
            let title = format!("{} {c}", words[0]);
            export
                .push(json!({"id": format!("c{ti}-{c}"), "title": title, "conversations": turns}));
            convs.push((title, ti, texts));
        }
    }
    let file = t.tmp.path().join("sharegpt.json");
    std::fs::write(&file, serde_json::to_vec(&export).unwrap()).unwrap();
    let r = t
        .ok(
            Method::POST,
            "/api/v1/import/source",
            Some(json!({"path": file.display().to_string()})),
        )
        .await;
    assert_eq!(r["conversations"], json!(40), "{r}");
    let list = t
        .ok(Method::GET, "/api/v1/conversations?limit=100", None)
        .await;
    for item in list["items"].as_array().unwrap() {
        let title = item["title"].as_str().unwrap();
        let c = convs.iter_mut().find(|c| c.0 == title).unwrap();
        c.0 = item["id"].as_str().unwrap().to_string();
    }
    // Background worker as in `vivim up`; status shows its progress until all is embedded.
    vivim_node::organize::spawn_worker(&t.node);
    let mut status = Value::Null;
    for _ in 0..200 {
        status = t.ok(Method::GET, "/api/admin/status", None).await;
        if status["semantic"]["vectors"].as_u64() == Some(160)
            && status["semantic"]["running"] == json!(false)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status["semantic"]["vectors"], json!(160), "{status}");
    assert_eq!(
        status["semantic"]["conversations_done"],
        json!(40),
        "{status}"
    );
    assert_eq!(status["semantic"]["embedder"], json!("builtin-hash-v1-256"));

    // Queries built from known content: 6 consecutive words of a message, in each mode.
    let mut found = [0usize; 3];
    let mut top1 = [0usize; 3];
    let mut queries = 0;
    for (conv, _, texts) in &convs {
        for text in texts.iter().take(2) {
            let w: Vec<&str> = text.split_whitespace().collect();
            let start = rng.below((w.len() - 8) as u64) as usize;
            let q = w[start..start + 6].join(" ");
            queries += 1;
            for (i, mode) in ["text", "vector", "hybrid"].iter().enumerate() {
                let uri = format!(
                    "/api/v1/search?q={}&mode={mode}&limit=10",
                    q.replace(' ', "%20")
                );
                let r = t.ok(Method::GET, &uri, None).await;
                let hits = r["hits"].as_array().unwrap();
                let convs_hit: Vec<&str> = hits
                    .iter()
                    .map(|h| h["conversation"].as_str().unwrap())
                    .collect();
                if convs_hit.iter().take(3).any(|c| c == conv) {
                    found[i] += 1;
                }
                if convs_hit.first() == Some(&conv.as_str()) {
                    top1[i] += 1;
                }
            }
        }
    }
    println!(
        "known-content queries: {queries}; found in top 3 (text, vector, hybrid) = {found:?}, top 1 = {top1:?}"
    );
    assert!(
        found[2] as f64 / queries as f64 >= 0.95,
        "hybrid top-3 {found:?} of {queries}"
    );
    assert!(
        found[1] as f64 / queries as f64 >= 0.8,
        "vector top-3 {found:?} of {queries}"
    );

    // Misspelled words defeat BM25 but not the character n-grams of the vectors.
    let (conv, _, texts) = &convs[9];
    let typo: String = texts[0]
        .split_whitespace()
        .take(12)
        .map(|w| {
            if w.len() > 4 {
                w[..w.len() - 1].to_string()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let r = t
        .ok(
            Method::GET,
            &format!("/api/v1/search?q={}&mode=hybrid", typo.replace(' ', "%20")),
            None,
        )
        .await;
    let same_topic: Vec<&str> = convs
        .iter()
        .filter(|c| c.1 == 1)
        .map(|c| c.0.as_str())
        .collect();
    let first = r["hits"][0]["conversation"].as_str().unwrap();
    assert!(
        same_topic.contains(&first),
        "typo query found {first}, not a rust conversation"
    );
    let _ = conv;

    // Related: the other conversations of the same topic come first.
    let (conv, topic, _) = &convs[12];
    let rel = t
        .ok(
            Method::GET,
            &format!("/api/v1/conversations/{}/related?limit=4", &conv[..10]),
            None,
        )
        .await;
    let rel = rel.as_array().unwrap();
    assert_eq!(rel.len(), 4);
    for r in rel {
        let c = r["conversation"].as_str().unwrap();
        assert_ne!(c, conv);
        let t2 = convs.iter().find(|x| x.0 == c).unwrap().1;
        assert_eq!(t2, *topic, "related {r} is of another topic");
    }

    // Bad input: clear JSON errors.
    let (s, v) = t
        .send(Method::GET, "/api/v1/search?q=x&mode=magic", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = t
        .send(Method::GET, "/api/v1/search?q=x&mode=vector&limit=0", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = t
        .send(
            Method::GET,
            "/api/v1/conversations/ffffffffffff/related",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Deleting a conversation drops its vectors.
    t.ok(
        Method::DELETE,
        &format!("/api/v1/conversations/{}", convs[0].0),
        None,
    )
    .await;
    let r = t
        .ok(
            Method::GET,
            &format!(
                "/api/v1/search?q={}&mode=vector&limit=100",
                TOPICS[0].replace(' ', "%20")
            ),
            None,
        )
        .await;
    assert!(
        r["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["conversation"] != json!(convs[0].0)),
        "deleted conversation still found"
    );
}

#[tokio::test]
async fn memories_are_extracted_consolidated_with_provenance_and_editable() {
    let t = open(None).await;
    let day = 86_400_000u64;
    let t0 = 1_700_000_000_000u64;
    let a = t
        .capture(
            None,
            "editor talk",
            "user",
            "My favourite editor is vim. I live in Lyon.",
            t0,
        )
        .await;
    t.capture(
        Some(&a),
        "",
        "assistant",
        "Vim is a fine editor.",
        t0 + 1000,
    )
    .await;
    let b = t
        .capture(
            None,
            "db choice",
            "user",
            "I decided to use Postgres for the analytics service.",
            t0 + day,
        )
        .await;
    let c = t
        .capture(
            None,
            "editor again",
            "user",
            "My favourite editor is helix. Remind me to renew the domain.",
            t0 + 2 * day,
        )
        .await;
    let d = t
        .capture(
            None,
            "db again",
            "user",
            "I decided to use Postgres for the analytics service!",
            t0 + 3 * day,
        )
        .await;
    let e = t
        .capture(
            None,
            "logs",
            "user",
            "How do I rotate the nginx logs?",
            t0 + 4 * day,
        )
        .await;
    t.capture(
        Some(&e),
        "",
        "assistant",
        "Like this:\n1. Move access.log aside\n2. Send USR1 to the master process\n3. Compress the old file",
        t0 + 4 * day + 1,
    )
    .await;

    let all = t
        .ok(Method::GET, "/api/v2/memories?all=true&limit=1000", None)
        .await;
    let all = all.as_array().unwrap();
    let find = |needle: &str| -> Vec<&Value> {
        all.iter()
            .filter(|m| m["memory_type"] != json!("episodic"))
            .filter(|m| m["content"].as_str().unwrap().contains(needle))
            .collect()
    };
    // Contradiction: the later statement wins; the older is superseded, not deleted, and both
    // keep provenance to the ACUs they came from.
    let vim = find("editor is vim");
    let helix = find("editor is helix");
    assert_eq!(vim.len(), 1, "{all:?}");
    assert_eq!(helix.len(), 1);
    let (vim, helix) = (vim[0], helix[0]);
    assert_eq!(vim["consolidation"], json!("superseded"));
    assert_eq!(vim["superseded_by"], helix["id"]);
    assert_eq!(vim["valid_to_ms"], helix["valid_from_ms"]);
    assert_eq!(helix["consolidation"], json!("active"));
    assert_eq!(vim["slot"], json!("my favourite editor"));
    let acus_a = t
        .ok(Method::GET, &format!("/api/v1/conversations/{a}"), None)
        .await;
    let first_acu = acus_a["messages"][0]["id"].as_str().unwrap();
    assert_eq!(vim["provenance"], json!([first_acu]));
    let helix_prov: Vec<&str> = helix["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        helix_prov.contains(&vim["id"].as_str().unwrap()),
        "the winner names the memory it superseded"
    );
    let acus_c = t
        .ok(Method::GET, &format!("/api/v1/conversations/{c}"), None)
        .await;
    assert!(helix_prov.contains(&acus_c["messages"][0]["id"].as_str().unwrap()));

    // Near-duplicate: merged into the first, which is reinforced and takes its provenance.
    let pg = find("Postgres for the analytics");
    assert_eq!(pg.len(), 2);
    let survivor = pg
        .iter()
        .find(|m| m["consolidation"] == json!("active"))
        .unwrap();
    let merged = pg
        .iter()
        .find(|m| m["consolidation"] == json!("merged"))
        .unwrap();
    assert_eq!(merged["merged_into"], survivor["id"]);
    assert!(merged["valid_to_ms"].is_u64());
    assert_eq!(survivor["reinforcement"], json!(1));
    assert_eq!(survivor["provenance"].as_array().unwrap().len(), 2);
    let acus_b = t
        .ok(Method::GET, &format!("/api/v1/conversations/{b}"), None)
        .await;
    let acus_d = t
        .ok(Method::GET, &format!("/api/v1/conversations/{d}"), None)
        .await;
    for conv in [&acus_b, &acus_d] {
        let id = conv["messages"][0]["id"].clone();
        assert!(survivor["provenance"].as_array().unwrap().contains(&id));
    }
    assert_eq!(merged["provenance"], json!([acus_d["messages"][0]["id"]]));
    // Other types: working memory with a validity, an episode per conversation.
    let remind = find("Remind me to renew");
    assert_eq!(remind[0]["memory_type"], json!("working"));
    assert_eq!(
        remind[0]["consolidation"],
        json!("expired"),
        "a week after 2023: {remind:?}"
    );
    assert!(
        remind[0]["valid_to_ms"].as_u64().unwrap() > remind[0]["valid_from_ms"].as_u64().unwrap()
    );
    assert!(
        all.iter()
            .filter(|m| m["memory_type"] == json!("episodic"))
            .count()
            >= 4
    );
    assert!(find("I live in Lyon")[0]["memory_type"] == json!("semantic"));
    // A numbered answer to a "how" question is a procedure, drawn from the answer.
    let how = find("How to rotate the nginx logs: 1. Move");
    assert_eq!(how.len(), 1, "{all:?}");
    assert_eq!(how[0]["memory_type"], json!("procedural"));
    assert!(how[0]["content"].as_str().unwrap().contains("2. Send USR1"));
    let acus_e = t
        .ok(Method::GET, &format!("/api/v1/conversations/{e}"), None)
        .await;
    assert_eq!(how[0]["provenance"], json!([acus_e["messages"][1]["id"]]));

    // Active listing hides superseded and merged memories; search ranks by meaning.
    let active = t.ok(Method::GET, "/api/v2/memories", None).await;
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["consolidation"] == json!("active"))
    );
    let s = t
        .ok(
            Method::GET,
            "/api/v2/memories?q=which%20editor%20do%20I%20use&limit=3",
            None,
        )
        .await;
    assert_eq!(s[0]["id"], helix["id"], "{s}");

    // CRUD.
    let (st, added) = t
        .send(
            Method::POST,
            "/api/v2/memories",
            Some(json!({"content": "I prefer tea over coffee", "importance": 0.9})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    let id = added["memory"]["id"].as_str().unwrap().to_string();
    let got = t
        .ok(
            Method::GET,
            &format!("/api/v2/memories/{}", &id[..10]),
            None,
        )
        .await;
    assert!(
        (got["importance"].as_f64().unwrap() - 0.9).abs() < 1e-6,
        "{got}"
    );
    let edited = t
        .ok(
            Method::PATCH,
            &format!("/api/v2/memories/{id}"),
            Some(json!({"content": "I prefer green tea", "importance": 0.4})),
        )
        .await;
    assert_eq!(edited["content"], json!("I prefer green tea"));
    assert_eq!(edited["id"], json!(id));
    let (st, _) = t
        .send(Method::DELETE, &format!("/api/v2/memories/{id}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = t
        .send(Method::GET, &format!("/api/v2/memories/{id}"), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // An edit that makes two memories say the same: consolidation merges them, keeping both
    // provenances on the survivor.
    let acu_b = acus_b["messages"][0]["id"].as_str().unwrap().to_string();
    let acu_c = acus_c["messages"][0]["id"].as_str().unwrap().to_string();
    let (_, x) = t
        .send(
            Method::POST,
            "/api/v2/memories",
            Some(json!({"content": "I cycle to work", "provenance": [acu_b]})),
        )
        .await;
    let (_, y) = t
        .send(
            Method::POST,
            "/api/v2/memories",
            Some(json!({"content": "I drive to work", "provenance": [acu_c]})),
        )
        .await;
    let y_id = y["memory"]["id"].as_str().unwrap().to_string();
    t.ok(
        Method::PATCH,
        &format!("/api/v2/memories/{y_id}"),
        Some(json!({"content": "I cycle to work."})),
    )
    .await;
    let c = t
        .ok(Method::POST, "/api/v2/memories/consolidate", None)
        .await;
    assert_eq!(c["merged"], json!(1), "{c}");
    assert_eq!(
        c["expired"],
        json!(0),
        "the pass expired the 2023 reminder already: {c}"
    );
    let x_after = t
        .ok(
            Method::GET,
            &format!("/api/v2/memories/{}", x["memory"]["id"].as_str().unwrap()),
            None,
        )
        .await;
    let y_after = t
        .ok(Method::GET, &format!("/api/v2/memories/{y_id}"), None)
        .await;
    let (first, second) = if x_after["consolidation"] == json!("active") {
        (&x_after, &y_after)
    } else {
        (&y_after, &x_after)
    };
    assert_eq!(second["consolidation"], json!("merged"));
    assert_eq!(second["merged_into"], first["id"]);
    let prov = first["provenance"].as_array().unwrap();
    assert!(
        prov.contains(&json!(acu_b)) && prov.contains(&json!(acu_c)),
        "{first}"
    );
    assert_eq!(
        second["provenance"].as_array().unwrap().len(),
        1,
        "the merged one keeps its own"
    );
    for bad in [
        json!({"content": ""}),
        json!({"content": "x", "importance": 3.0}),
        json!({"content": "x", "memory_type": "dream"}),
        json!({"content": "x".repeat(5000)}),
        json!({"content": "x", "provenance": ["zz"]}),
    ] {
        let (st, v) = t
            .send(Method::POST, "/api/v2/memories", Some(bad.clone()))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(v["error"]["message"].is_string());
    }
    // Memories and extraction state survive a restart.
    let n = t
        .ok(Method::GET, "/api/v2/memories?all=true&limit=1000", None)
        .await
        .as_array()
        .unwrap()
        .len();
    t.node.shutdown().await.unwrap();
    drop(t.app);
    let dir = DataDir::at(t.tmp.path());
    drop(t.node);
    let node = Node::open(dir, None, false).await.unwrap();
    let again = vivim_node::organize::memories(&node, None, true, 1000)
        .await
        .unwrap();
    assert_eq!(again.len(), n);
    assert_eq!(
        vivim_node::organize::catch_up(&node)
            .await
            .unwrap()
            .memories,
        0
    );
}

#[tokio::test]
async fn context_fits_its_budget_with_sections_and_send_needs_a_provider() {
    let t = open(None).await;
    let t0 = 1_700_000_000_000u64;
    let a = t
        .capture(
            None,
            "db",
            "user",
            "I decided to use Postgres for the analytics service.",
            t0,
        )
        .await;
    t.capture(
        Some(&a),
        "",
        "assistant",
        "Postgres partitions and BRIN indexes suit analytics.",
        t0 + 1,
    )
    .await;
    let b = t
        .capture(
            None,
            "bread",
            "user",
            "How long should sourdough proof?",
            t0 + 10,
        )
        .await;
    t.capture(
        Some(&b),
        "",
        "assistant",
        "Bulk ferment 4 to 6 hours at 24 degrees.",
        t0 + 11,
    )
    .await;
    for budget in [40usize, 120, 400, 4000] {
        let ctx = t
            .ok(
                Method::POST,
                "/api/v2/context",
                Some(json!({"query": "which database for analytics?", "budget_tokens": budget, "model": "gpt-4o"})),
            )
            .await;
        let total = ctx["total_tokens"].as_u64().unwrap() as usize;
        assert!(total <= budget, "{total} > {budget}");
        assert_eq!(ctx["tokenizer"], json!("o200k_base"));
        let names: Vec<&str> = ctx["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["system", "memories", "retrieved", "recent", "query"]
        );
        if budget == 4000 {
            let p = ctx["prompt"].as_str().unwrap();
            assert!(p.contains("Postgres"), "{p}");
            assert!(
                p.contains("sourdough"),
                "recent turns of the latest conversation: {p}"
            );
            assert!(p.ends_with("which database for analytics?"));
            let mem = &ctx["sections"][1];
            assert!(mem["items"].as_u64().unwrap() >= 1, "{ctx}");
        }
    }
    let ctx = t
        .ok(
            Method::POST,
            "/api/v2/context",
            Some(json!({"query": "analytics", "budget_tokens": 500, "model": "claude-3-5-sonnet"})),
        )
        .await;
    assert!(ctx["tokenizer"].as_str().unwrap().starts_with("estimate"));
    let (s, v) = t
        .send(
            Method::POST,
            "/api/v2/context",
            Some(json!({"query": "q", "budget_tokens": 100, "send": true})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], json!("no_provider"));
    for bad in [
        json!({"query": "", "budget_tokens": 100}),
        json!({"query": "q", "budget_tokens": 0}),
        json!({"query": "a long question ".repeat(20), "budget_tokens": 5}),
        json!({"budget_tokens": 5}),
    ] {
        let (s, v) = t
            .send(Method::POST, "/api/v2/context", Some(bad.clone()))
            .await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {s} {v}"
        );
        assert!(v["error"]["message"].is_string());
    }
}

/// A tiny Model2Vec folder: WordPiece vocabulary and a 3-d embedding table.
fn write_tiny_model(dir: &std::path::Path) {
    let vocab = ["[PAD]", "[UNK]", "cat", "dog", "##s", "car", "truck", "!"];
    let map: serde_json::Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), json!(i)))
        .collect();
    let tok = json!({
        "version": "1.0",
        "normalizer": {"type": "BertNormalizer", "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": map}
    });
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    let rows: [[f32; 3]; 8] = [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [1.0, 0.1, 0.0],
        [0.9, 0.2, 0.0],
        [0.0, 0.0, 0.2],
        [0.0, 1.0, 0.1],
        [0.1, 0.9, 0.0],
        [0.0, 0.0, 0.0],
    ];
    let data: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![8, 3], &data).unwrap();
    let bytes = safetensors::serialize([("embeddings", view)], None).unwrap();
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
}

#[tokio::test]
async fn model2vec_folder_loads_embeds_and_serves_vector_search() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-model");
    std::fs::create_dir(&model).unwrap();
    write_tiny_model(&model);
    let m = StaticModel::load(&model).unwrap();
    assert_eq!(m.dims(), 3);
    assert_eq!(m.tokenize("Cats!"), vec![2, 4, 7]);
    assert_eq!(m.tokenize("zebra"), vec![1]);
    let v = m
        .embed(&["cats".into(), "dog".into(), "truck".into(), "zebra".into()])
        .await
        .unwrap();
    assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-5);
    assert!(dot(&v[0], &v[1]) > 0.9, "cat ~ dog");
    assert!(dot(&v[0], &v[2]) < 0.3, "cat !~ truck");
    assert!(
        v[3].iter().all(|x| *x == 0.0),
        "unknown words give no direction"
    );
    // Broken folders are clear errors.
    std::fs::write(model.join("model.safetensors"), b"nope").unwrap();
    let e = StaticModel::load(&model).unwrap_err().to_string();
    assert!(e.contains("safetensors"), "{e}");
    write_tiny_model(&model);

    // As the node's embedder.
    let cfg = format!(
        "[embed]\nkind = \"model2vec\"\npath = \"{}\"\n",
        model.display()
    );
    let t = open(Some(&cfg)).await;
    let c = t
        .capture(None, "pets", "user", "my dog and my cat", 1)
        .await;
    t.capture(None, "vehicles", "user", "a car and a truck", 2)
        .await;
    let r = t
        .ok(Method::GET, "/api/v1/search?q=cats&mode=vector", None)
        .await;
    assert_eq!(r["hits"][0]["conversation"], json!(c), "{r}");
    let st = t.ok(Method::GET, "/api/admin/status", None).await;
    assert_eq!(st["semantic"]["embedder"], json!("model2vec-tiny-model-3"));
    assert_eq!(st["semantic"]["dims"], json!(3));
}
