# frozen_string_literal: true
#
# Liveness of the Sidekiq process in this pod, from Sidekiq's own heartbeat: every few seconds each
# Sidekiq process adds its identity ("<hostname>:<pid>:<nonce>") to the set "processes" and writes
# "beat" (epoch seconds) and "rss" (KB) to the hash of that name. Discourse keeps Sidekiq's keys in
# Redis database DISCOURSE_REDIS_DB + 1 (Discourse.sidekiq_redis_config). A beat older than
# FORUMOPS_SIDEKIQ_BEAT_WITHIN seconds (100, the threshold of upstream's Demon::Sidekiq
# heartbeat_check) means Sidekiq is stuck; RSS over FORUMOPS_SIDEKIQ_MAX_RSS_MB (0: no cap) means
# it should restart, as upstream's rss_memory_check restarts it. Exit 0: alive; 1: not, with why.
require "redis"
require "socket"

def env_int(name, default)
  value = ENV.fetch(name, "")
  value.empty? ? default : Integer(value, 10)
end

beat_within = env_int("FORUMOPS_SIDEKIQ_BEAT_WITHIN", 100)
max_rss_mb = env_int("FORUMOPS_SIDEKIQ_MAX_RSS_MB", 0)
# Sidekiq's own hostname: ENV["DYNO"] || Socket.gethostname (the pod's name in Kubernetes).
hostname = ENV["DYNO"] || Socket.gethostname

options = {
  host: ENV.fetch("DISCOURSE_REDIS_HOST", "localhost"),
  port: env_int("DISCOURSE_REDIS_PORT", 6379),
  db: env_int("DISCOURSE_REDIS_DB", 0) + 1,
  timeout: 5,
}
options[:username] = ENV["DISCOURSE_REDIS_USERNAME"] unless ENV.fetch("DISCOURSE_REDIS_USERNAME", "").empty?
options[:password] = ENV["DISCOURSE_REDIS_PASSWORD"] unless ENV.fetch("DISCOURSE_REDIS_PASSWORD", "").empty?
options[:ssl] = true if ENV["DISCOURSE_REDIS_USE_SSL"] == "true"

begin
  redis = Redis.new(**options)
  mine = redis.smembers("processes").select { |identity| identity.start_with?("#{hostname}:") }
  beats = mine.map { |identity| [identity, *redis.hmget(identity, "beat", "rss")] }.reject { |b| b[1].nil? }
rescue StandardError => e
  abort "not alive: cannot read Sidekiq's heartbeat from #{options[:host]}:#{options[:port]} db #{options[:db]}: #{e.message}"
end

abort "not alive: no Sidekiq process of #{hostname} has a heartbeat" if beats.empty?
identity, beat, rss = beats.max_by { |b| b[1].to_f }
age = Time.now.to_f - beat.to_f
rss_mb = rss.to_i / 1024
abort format("not alive: %s last beat %.0f s ago (limit %d s)", identity, age, beat_within) if age > beat_within
if max_rss_mb.positive? && rss_mb > max_rss_mb
  abort "not alive: #{identity} uses #{rss_mb} MB, over #{max_rss_mb} MB (discourse_app_sidekiq_max_rss_mb)"
end
puts format("alive: %s beat %.1f s ago, %d MB", identity, age, rss_mb)
