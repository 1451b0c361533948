package io.headrace.tests.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.ArrayList;
import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;

/**
 * Stands in for the build step of Apicurio's config-index Quarkus extension, whose deployment
 * module is not on Maven Central: it listed the settings that may be changed while the registry
 * runs. The test registry offers none, so the list is empty.
 */
@ApplicationScoped
public class DynamicPropertiesProducer {
    @Produces
    @ApplicationScoped
    DynamicConfigPropertyList dynamicConfigProperties() {
        return new DynamicConfigPropertyList(new ArrayList<>());
    }
}
