/**
 * Imports every middleware hook, so each registers its driver under chihaya's
 * name (`jwt`, `client approval`, `torrent approval`, `interval variation`,
 * `fixed peers`, and hayate's `rate limit`) before a config is validated against `hookNames()`.
 *
 * @module
 */
import "./clientapproval/clientapproval.ts";
import "./fixedpeers/fixedpeers.ts";
import "./jwt/jwt.ts";
import "./ratelimit/ratelimit.ts";
import "./torrentapproval/torrentapproval.ts";
import "./varinterval/varinterval.ts";
