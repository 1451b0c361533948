//! librdkafka client configuration from `properties.*`, and errors that say what to fix.

use std::collections::BTreeMap;
use std::time::Duration;

use headrace_sdk::error::{Error, ErrorDomain, Retry};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;

/// How long metadata and offset requests may take before the connector gives up with an error
/// naming the cluster (librdkafka itself retries forever).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Java client properties that have no librdkafka equivalent and that Flink itself sets or
/// ignores; they are dropped (with a debug log) so Flink DDL works as is.
const JAVA_ONLY: &[&str] = &[
    "key.deserializer",
    "value.deserializer",
    "key.serializer",
    "value.serializer",
    "partition.discovery.interval.ms",
    "client.id.prefix",
    "commit.offsets.on.checkpoint",
    "register.consumer.metrics",
    "flink.partition-discovery.interval-millis",
];

/// The client settings of one table: `properties.*` without the prefix.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    /// Properties as the user wrote them (without `properties.`).
    pub properties: BTreeMap<String, String>,
    /// The table, for messages.
    pub context: String,
}

impl ClientSettings {
    /// The bootstrap servers.
    pub fn bootstrap(&self) -> &str {
        self.properties
            .get("bootstrap.servers")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// A librdkafka configuration with the user's properties (Java-only keys dropped,
    /// `sasl.jaas.config` for PLAIN/SCRAM translated to `sasl.username` / `sasl.password`),
    /// then `overrides` where the user did not set the key, then `forced` regardless.
    pub fn config(&self, defaults: &[(&str, &str)], forced: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            if JAVA_ONLY.contains(&k.as_str()) {
                tracing::debug!("{}: ignoring Java-only Kafka property '{k}'", self.context);
                continue;
            }
            if k == "sasl.jaas.config" {
                if let Some((user, pass)) = parse_jaas(v) {
                    c.set("sasl.username", user);
                    c.set("sasl.password", pass);
                }
                continue;
            }
            c.set(k, v);
        }
        for (k, v) in forced {
            c.set(*k, *v);
        }
        c
    }

    /// The user's `isolation.level`, or Kafka's Java default.
    pub fn isolation_level(&self) -> &str {
        self.properties
            .get("isolation.level")
            .map(String::as_str)
            .unwrap_or("read_uncommitted")
    }
}

/// `username="u" password="p"` out of a Java JAAS line.
fn parse_jaas(s: &str) -> Option<(String, String)> {
    let field = |name: &str| -> Option<String> {
        let i = s.find(&format!("{name}="))?;
        let rest = &s[i + name.len() + 1..];
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let end = rest[1..].find(quote)?;
            Some(rest[1..1 + end].to_string())
        } else {
            Some(
                rest.split(|c: char| c.is_whitespace() || c == ';')
                    .next()?
                    .to_string(),
            )
        }
    };
    Some((field("username")?, field("password")?))
}

/// A Kafka client error, classified, with what was being done and how to fix it.
pub fn kafka_error(settings: &ClientSettings, doing: &str, e: KafkaError) -> Error {
    let code = e.rdkafka_error_code();
    let cluster = settings.bootstrap();
    let (hint, domain, retry) = match code {
        Some(RDKafkaErrorCode::InvalidArgument) | Some(RDKafkaErrorCode::Unknown)
            if matches!(e, KafkaError::ClientConfig(..)) =>
        {
            (
                " Check the 'properties.*' options: librdkafka does not accept this property or value."
                    .to_string(),
                ErrorDomain::User,
                Retry::No,
            )
        }
        Some(RDKafkaErrorCode::SaslAuthenticationFailed)
        | Some(RDKafkaErrorCode::Authentication)
        | Some(RDKafkaErrorCode::TopicAuthorizationFailed)
        | Some(RDKafkaErrorCode::GroupAuthorizationFailed)
        | Some(RDKafkaErrorCode::ClusterAuthorizationFailed)
        | Some(RDKafkaErrorCode::TransactionalIdAuthorizationFailed) => (
            " Check the credentials and ACLs given in 'properties.security.protocol', \
             'properties.sasl.*'."
                .to_string(),
            ErrorDomain::User,
            Retry::No,
        ),
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) | Some(RDKafkaErrorCode::UnknownTopic) => (
            " Create the topic first, or check the 'topic' option.".to_string(),
            ErrorDomain::User,
            Retry::No,
        ),
        Some(RDKafkaErrorCode::AllBrokersDown)
        | Some(RDKafkaErrorCode::Resolve)
        | Some(RDKafkaErrorCode::BrokerTransportFailure)
        | Some(RDKafkaErrorCode::OperationTimedOut)
        | Some(RDKafkaErrorCode::RequestTimedOut) => (
            format!(
                " Is a broker running at '{cluster}' (option 'properties.bootstrap.servers') and reachable from here?"
            ),
            ErrorDomain::External,
            Retry::Backoff,
        ),
        _ => (String::new(), ErrorDomain::External, Retry::Backoff),
    };
    let config_hint = if let KafkaError::ClientConfig(_, _, _, _) = &e {
        " Check the 'properties.*' options: librdkafka does not accept this property or value."
            .to_string()
    } else {
        hint
    };
    let domain = if matches!(e, KafkaError::ClientConfig(..)) {
        ErrorDomain::User
    } else {
        domain
    };
    Error::Connector {
        message: format!(
            "{}: {doing} (cluster '{cluster}'): {e}.{config_hint}",
            settings.context
        ),
        domain,
        retry: if domain == ErrorDomain::User {
            Retry::No
        } else {
            retry
        },
        source: Some(Box::new(e)),
    }
}

/// Partitions of `topic` in `md`, or an error saying the topic does not exist.
pub fn topic_partitions(
    settings: &ClientSettings,
    md: &Metadata,
    topic: &str,
) -> Result<Vec<i32>, Error> {
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Err(missing_topic(settings, topic));
    };
    if let Some(err) = t.error() {
        let code = RDKafkaErrorCode::from(err);
        if matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
        ) {
            return Err(missing_topic(settings, topic));
        }
        return Err(Error::Connector {
            message: format!(
                "{}: cannot read metadata of topic '{topic}' (cluster '{}'): {code}",
                settings.context,
                settings.bootstrap()
            ),
            domain: if matches!(code, RDKafkaErrorCode::TopicAuthorizationFailed) {
                ErrorDomain::User
            } else {
                ErrorDomain::External
            },
            retry: Retry::Backoff,
            source: None,
        });
    }
    let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    ps.sort_unstable();
    if ps.is_empty() {
        return Err(missing_topic(settings, topic));
    }
    Ok(ps)
}

fn missing_topic(settings: &ClientSettings, topic: &str) -> Error {
    Error::Connector {
        message: format!(
            "{}: topic '{topic}' does not exist on cluster '{}'. Create it first (e.g. \
             kafka-topics.sh --create --topic {topic}), or fix the 'topic' option",
            settings.context,
            settings.bootstrap()
        ),
        domain: ErrorDomain::User,
        retry: Retry::No,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas() {
        assert_eq!(
            parse_jaas(
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"s3cret\";"
            ),
            Some(("alice".into(), "s3cret".into()))
        );
        assert_eq!(parse_jaas("nothing"), None);
    }

    #[test]
    fn java_only_keys_are_dropped() {
        let s = ClientSettings {
            properties: BTreeMap::from([
                ("bootstrap.servers".to_string(), "b:9092".to_string()),
                (
                    "key.deserializer".to_string(),
                    "org.apache.kafka.common.serialization.ByteArrayDeserializer".to_string(),
                ),
            ]),
            context: "t".into(),
        };
        let c = s.config(&[("client.id", "x")], &[]);
        assert_eq!(c.get("bootstrap.servers"), Some("b:9092"));
        assert_eq!(c.get("key.deserializer"), None);
        assert_eq!(c.get("client.id"), Some("x"));
    }
}

/// A client context that keeps the last error librdkafka reported in the background (an
/// authentication failure arrives there, while the request itself only fails with a transport
/// error), so errors can name the real cause.
#[derive(Clone, Default)]
pub struct ClientErrors {
    last: Arc<Mutex<Option<String>>>,
}

impl ClientErrors {
    /// The last background error, if any.
    pub fn last(&self) -> Option<String> {
        self.last.lock().ok().and_then(|g| g.clone())
    }
}

impl ClientContext for ClientErrors {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                tracing::error!("librdkafka: {fac}: {message}");
                if let Ok(mut g) = self.last.lock() {
                    *g = Some(message.to_string());
                }
            }
            L::Warning => tracing::warn!("librdkafka: {fac}: {message}"),
            L::Notice | L::Info => tracing::info!("librdkafka: {fac}: {message}"),
            L::Debug => tracing::debug!("librdkafka: {fac}: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // The end of a partition (enable.partition.eof, used for bounded reads) also reaches this
        // callback as a "global error"; it is progress, not a problem worth a warning.
        if matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::debug!("librdkafka: {error}: {reason}");
            return;
        }
        tracing::warn!("librdkafka: {error}: {reason}");
        if let Ok(mut g) = self.last.lock() {
            *g = Some(format!("{error}: {reason}"));
        }
    }
}

impl ConsumerContext for ClientErrors {}

/// The consumer type of the Kafka source.
pub type SourceConsumer = BaseConsumer<ClientErrors>;

/// Like [`kafka_error`], naming the last background error of the consumer when there is one; an
/// authentication failure becomes a user error pointing at the credentials.
pub fn kafka_error_ctx(
    settings: &ClientSettings,
    consumer: &SourceConsumer,
    doing: &str,
    e: KafkaError,
) -> Error {
    // Background errors are events on the consumer's queue: serve them (a consumer without
    // assigned partitions returns no message here) so the context sees them.
    for _ in 0..10 {
        if consumer.poll(std::time::Duration::ZERO).is_none() {
            break;
        }
    }
    let Some(last) = consumer.context().last() else {
        return kafka_error(settings, doing, e);
    };
    let lower = last.to_ascii_lowercase();
    if lower.contains("authentication") || lower.contains("sasl") {
        return Error::Connector {
            message: format!(
                "{}: {doing} (cluster '{}'): authentication failed: {last}. Check the credentials \
                 in 'properties.sasl.username' / 'properties.sasl.password' (or \
                 'properties.sasl.jaas.config'), 'properties.sasl.mechanism' and \
                 'properties.security.protocol'",
                settings.context,
                settings.bootstrap()
            ),
            domain: ErrorDomain::User,
            retry: Retry::No,
            source: Some(Box::new(e)),
        };
    }
    let mut err = kafka_error(settings, doing, e);
    if let Error::Connector { message, .. } = &mut err {
        message.push_str(&format!(" Last error reported by librdkafka: {last}."));
    }
    err
}
