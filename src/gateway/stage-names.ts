/**
 * The stages the pipeline runs, in order. The last two steps of the journey are not run by it:
 * respond is the forward stage's exchange with the upstream (stages/respond.ts), and record runs
 * once the response is done (stages/record.ts).
 */
export type StageName =
  | 'transport'
  | 'cors'
  | 'route'
  | 'pre-auth-limit'
  | 'authenticate'
  | 'rate-limit'
  | 'authorize'
  | 'body'
  | 'validate'
  | 'forward';
