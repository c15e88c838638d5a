//! The licences of third-party models that an operator must accept, by name, before `serve` starts with such a
//! model: a setting of the configuration, shown again in the terms, the manifest and the OpenAPI document.

/// The licence of a third-party model, as an operator names it to accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelLicence {
    /// The Tencent Hunyuan 3D 2.0 Community License Agreement (Hunyuan3D-2).
    Hunyuan3d20Community,
    /// The Tencent Hunyuan 3D 2.1 Community License Agreement (Hunyuan3D-2.1).
    Hunyuan3d21Community,
}

impl ModelLicence {
    /// Every licence an operator can accept.
    pub const ALL: [ModelLicence; 2] = [ModelLicence::Hunyuan3d20Community, ModelLicence::Hunyuan3d21Community];

    /// The name an operator gives in `hunyuan3d_licence`.
    pub fn name(self) -> &'static str {
        match self {
            ModelLicence::Hunyuan3d20Community => "hunyuan3d-2.0-community",
            ModelLicence::Hunyuan3d21Community => "hunyuan3d-2.1-community",
        }
    }

    /// The licence named `name`.
    pub fn named(name: &str) -> Option<ModelLicence> {
        ModelLicence::ALL.into_iter().find(|licence| licence.name() == name.trim())
    }

    /// The licence's title.
    pub fn title(self) -> &'static str {
        match self {
            ModelLicence::Hunyuan3d20Community => "Tencent Hunyuan 3D 2.0 Community License Agreement",
            ModelLicence::Hunyuan3d21Community => "Tencent Hunyuan 3D 2.1 Community License Agreement",
        }
    }

    /// Where its text and its Acceptable Use Policy are published.
    pub fn url(self) -> &'static str {
        match self {
            ModelLicence::Hunyuan3d20Community => "https://huggingface.co/tencent/Hunyuan3D-2/blob/main/LICENSE",
            ModelLicence::Hunyuan3d21Community => "https://huggingface.co/tencent/Hunyuan3D-2.1/blob/main/LICENSE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences_are_named_once_and_read_back() {
        for licence in ModelLicence::ALL {
            assert_eq!(ModelLicence::named(licence.name()), Some(licence));
            assert!(licence.url().starts_with("https://"));
        }
        assert_eq!(ModelLicence::named("apache-2.0"), None);
    }
}
