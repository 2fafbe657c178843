package io.portcullis.server.http;

/**
 * Handles one admin API route. Implementations return problem responses for bad input (never throw
 * for it); an exception is a bug and becomes a 500 problem without detail.
 */
@FunctionalInterface
public interface AdminRoute {
  AdminResponse handle(AdminRequest request) throws Exception;
}
