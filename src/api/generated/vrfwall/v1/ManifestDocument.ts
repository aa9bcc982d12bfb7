// Original file: proto/vrfwall/v1/state.proto


/**
 * One manifest file as the client read it.
 */
export interface ManifestDocument {
  /**
   * its name, for errors ("file: reason")
   */
  'file'?: (string);
  /**
   * its YAML
   */
  'text'?: (string);
}

/**
 * One manifest file as the client read it.
 */
export interface ManifestDocument__Output {
  /**
   * its name, for errors ("file: reason")
   */
  'file': (string);
  /**
   * its YAML
   */
  'text': (string);
}
