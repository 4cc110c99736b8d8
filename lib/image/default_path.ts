/**
 * The PATH a container gets when its image's config sets none, and init
 * resolves a command by when the environment has no PATH: Docker's default,
 * so images behave as they do there.
 *
 * @module
 */

/** The directories, without `PATH=`. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
