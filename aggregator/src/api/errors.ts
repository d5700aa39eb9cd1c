// API errors: every failure leaves as `{error: {code, message}}` with the right HTTP status;
// nothing a client sends may surface as a 500.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new ApiError(400, "BAD_REQUEST", message);
export const notFound = (message: string) => new ApiError(404, "NOT_FOUND", message);

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
