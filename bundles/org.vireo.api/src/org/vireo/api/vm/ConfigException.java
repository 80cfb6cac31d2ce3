package org.vireo.api.vm;

import java.util.List;
import java.util.stream.Collectors;

import org.vireo.api.VireoException;

/** A VM config that does not validate; the message lists every problem, one a line. */
public class ConfigException extends VireoException {
    private static final long serialVersionUID = 1L;

    private final transient List<ConfigProblem> problems;

    public ConfigException(String source, List<ConfigProblem> problems) {
        super(source + " is not a valid VM config:\n" + problems.stream()
                .map(p -> "  " + p).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<ConfigProblem> problems() {
        return problems;
    }
}
